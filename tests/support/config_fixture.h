/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the config loader's unit tests share (tests/unit/test_config_files.c,
 * test_config_values.c, test_config_sections.c): the one config they load into, its error
 * buffer, loading a file under the source tree or parsing a document from memory, and checks
 * of the socket addresses the loader converts. Include it once per test binary.
 */
#ifndef VD_TEST_CONFIG_FIXTURE_H
#define VD_TEST_CONFIG_FIXTURE_H

#include <viaduct/config_file.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef VD_SOURCE_ROOT
#error "VD_SOURCE_ROOT must be defined as the repository root, e.g. -DVD_SOURCE_ROOT=\"/src\""
#endif

#define CFG_DIR VD_SOURCE_ROOT "/tests/config/"

/* Big enough for 256 members; static so it never sits on a test's stack. */
static struct vd_config cfg;
static char err[512];

/* Every test runs in its own process (criterion forks): free what it loaded at exit. */
__attribute__((destructor)) static void free_cfg(void)
{
	vd_config_free(&cfg);
}

static inline int load(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", VD_SOURCE_ROOT, rel);
	vd_config_free(&cfg); /* the previous load's pools, if any */
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
	return vd_config_load(path, &cfg, err, sizeof(err));
}

static inline int parse(const char *yaml)
{
	vd_config_free(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
	return vd_config_parse(yaml, strlen(yaml), "mem.yaml", &cfg, err, sizeof(err));
}

static inline unsigned expected_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > VD_CFG_MAX_WORKERS ? VD_CFG_MAX_WORKERS : (unsigned)n;
}

static inline void assert_v4(const union vd_sockaddr *ss, socklen_t len, const char *ip,
				     uint16_t port)
{
	const struct sockaddr_in *sin = (const void *)ss;
	struct in_addr want;

	cr_assert_eq(inet_pton(AF_INET, ip, &want), 1);
	cr_assert_eq(ss->sa.sa_family, AF_INET, "family %d, want AF_INET for %s", ss->sa.sa_family, ip);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(sin->sin_addr.s_addr, want.s_addr, "address mismatch for %s", ip);
	cr_assert_eq(sin->sin_port, htons(port), "port %u, want %u", ntohs(sin->sin_port), port);
}

static inline void assert_v6(const union vd_sockaddr *ss, socklen_t len, const char *ip,
				     uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	struct in6_addr want;

	cr_assert_eq(inet_pton(AF_INET6, ip, &want), 1);
	cr_assert_eq(ss->sa.sa_family, AF_INET6, "family %d, want AF_INET6 for %s", ss->sa.sa_family,
		     ip);
	cr_assert_eq(len, sizeof(struct sockaddr_in6));
	cr_assert(memcmp(&sin6->sin6_addr, &want, sizeof(want)) == 0, "address mismatch for %s",
		  ip);
	cr_assert_eq(sin6->sin6_port, htons(port), "port %u, want %u", ntohs(sin6->sin6_port),
		     port);
}

/* A pool for documents that are about something else. */
#define POOL "pool: {name: p, members: [{host: 127.0.0.1, port: 5070}]}\n"

#endif
