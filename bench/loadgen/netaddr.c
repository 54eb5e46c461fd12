/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Numeric address parsing and formatting, and UDP socket set-up shared by loadgen and
 * responder. Everything here runs once at start-up, never per message.
 */
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netaddr.h"

int lg_addr_parse_ip(const char *s, uint16_t port, struct sockaddr_storage *ss)
{
	char tmp[LG_ADDR_STRLEN];
	size_t n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, tmp, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return 0;
	}
	return -EINVAL;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int lg_addr_parse_hostport(const char *s, struct sockaddr_storage *ss)
{
	char host[LG_ADDR_STRLEN];
	const char *colon;
	uint16_t port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		colon = close + 1;
	} else {
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL; /* no port, or an unbracketed IPv6 address */
	}
	size_t n = (size_t)(colon - s);
	if (n >= sizeof(host) || parse_port(colon + 1, &port))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	return lg_addr_parse_ip(host, port, ss);
}

socklen_t lg_addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

uint16_t lg_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

int lg_addr_format_host(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
		return snprintf(buf, cap, "[%s]", ip);
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
	return snprintf(buf, cap, "%s", ip);
}

int lg_addr_format(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char host[LG_ADDR_STRLEN];

	lg_addr_format_host(ss, host, sizeof(host));
	return snprintf(buf, cap, "%s:%u", host, (unsigned)lg_addr_port(ss));
}

/*
 * Ask for big buffers: a burst of a few thousand datagrams must not overflow them, or the
 * benchmark measures socket buffer drops of its own making. SO_*BUFFORCE (root) goes past
 * net.core.[rw]mem_max without changing that system-wide setting; otherwise the plain option
 * is capped at the sysctl, which is fine.
 */
static void set_buffers(int fd, int size)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int lg_udp_open(struct sockaddr_storage *local, int bufsize)
{
	socklen_t len = sizeof(*local);
	int on = 1;
	int err;

	int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* An IPv6 socket serves IPv6 only: no v4-mapped surprises. */
	if (local->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	set_buffers(fd, bufsize);
	if (bind(fd, (struct sockaddr *)local, lg_addr_len(local)) < 0)
		goto fail;
	if (getsockname(fd, (struct sockaddr *)local, &len) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int lg_addr_source_for(const struct sockaddr_storage *dst, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	int err = 0;

	int fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* connect() on UDP only does the route lookup and picks the source address. */
	if (connect(fd, (const struct sockaddr *)dst, lg_addr_len(dst)) < 0 ||
	    getsockname(fd, (struct sockaddr *)out, &len) < 0)
		err = -errno;
	close(fd);
	if (!err) {
		if (out->ss_family == AF_INET6)
			((struct sockaddr_in6 *)out)->sin6_port = 0;
		else
			((struct sockaddr_in *)out)->sin_port = 0;
	}
	return err;
}

int lg_udp_drops(int fd, uint64_t *drops)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
		return -errno;
	if (len <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return -ENOTSUP;
	*drops = mem[SK_MEMINFO_DROPS];
	return 0;
}
