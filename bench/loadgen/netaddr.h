/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Addresses for the load generator and the responder: parsing "IP", "IPv4:PORT" and
 * "[IPv6]:PORT" (numeric only: a benchmark must not depend on DNS), formatting an address as a
 * SIP sent-by ("127.0.0.1:5070", "[::1]:5070"), and opening the UDP sockets both tools use.
 */
#ifndef LG_NETADDR_H
#define LG_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LG_ADDR_STRLEN 64 /* "[" + INET6_ADDRSTRLEN + "]:65535" fits */

/** Parse a numeric IPv4 or IPv6 address (IPv6 with or without brackets), port set to @p port. */
int lg_addr_parse_ip(const char *s, uint16_t port, struct sockaddr_storage *ss);

/**
 * Parse "IPv4:PORT" or "[IPv6]:PORT" (port 1..65535 required). An IPv6 address without
 * brackets is refused: "::1:5060" is ambiguous. Returns 0 or -EINVAL.
 */
int lg_addr_parse_hostport(const char *s, struct sockaddr_storage *ss);

/** Length of the sockaddr for its family (for sendmsg/bind). */
socklen_t lg_addr_len(const struct sockaddr_storage *ss);

/** Write "IP:PORT" or "[IPv6]:PORT" into @p buf (at least LG_ADDR_STRLEN). Returns length. */
int lg_addr_format(const struct sockaddr_storage *ss, char *buf, size_t cap);

/** Write the host part alone ("127.0.0.1", "[::1]"). Returns length. */
int lg_addr_format_host(const struct sockaddr_storage *ss, char *buf, size_t cap);

/** The port of an address, host order. */
uint16_t lg_addr_port(const struct sockaddr_storage *ss);

/**
 * Open a non-blocking UDP socket bound to @p local (port 0 = ephemeral) with SO_RCVBUF and
 * SO_SNDBUF of @p bufsize bytes, no SO_REUSEPORT (a port in use is an error, not a silent
 * share), and write the bound address back into @p local. Returns the fd or -errno.
 */
int lg_udp_open(struct sockaddr_storage *local, int bufsize);

/**
 * How many datagrams the kernel dropped at socket @p fd for a full receive buffer, so far
 * (SO_MEMINFO). Control path: call it once, at the end. Returns 0 or -errno.
 */
int lg_udp_drops(int fd, uint64_t *drops);

/** The local address the kernel would use to reach @p dst (route lookup, nothing sent). */
int lg_addr_source_for(const struct sockaddr_storage *dst, struct sockaddr_storage *out);

#endif
