/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the viaductctl binary against the admin server (src/ctl/admin.c) with fake
 * ops: every command, odd pool and member names, errors and their exit codes, the address from
 * the environment, no server and a server that never answers. VD_VIADUCTCTL is the path of the
 * built viaductctl. Shared fakes and the server: tests/support/admin_fixture.h.
 */
#include "admin_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VD_VIADUCTCTL
#error "VD_VIADUCTCTL must be the path of the viaductctl binary"
#endif

#define CTL_TIMEOUT_MS 10000
#define CTL_OUT_MAX    (1u << 20)

#define CTL_TEST(name)                                                                             \
	Test(ctl, name, .init = server_up, .fini = server_down, .timeout = TEST_TIMEOUT_S)

/* ==== viaductctl ==== */

struct ctl_run {
	int status; /* exit code, -1 if killed */
	char out[CTL_OUT_MAX];
	char err[ERR_LEN * 4];
};

static struct ctl_run run;

/* Read what is there from fd into buf (NUL-terminated); false at EOF. */
static bool drain_fd(int fd, char *buf, size_t cap, size_t *len)
{
	char sink[4096];
	ssize_t n;

	if (*len + 1 < cap)
		n = read(fd, buf + *len, cap - 1 - *len);
	else
		n = read(fd, sink, sizeof(sink));
	if (n <= 0)
		return n < 0 && errno == EINTR;
	if (*len + 1 < cap)
		*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/* Run viaductctl with argv (argv[0] included) and env (NULL-terminated), bounded in time. */
static void ctl(const char *const argv[], const char *const env[])
{
	int out[2], err[2];
	size_t out_len = 0, err_len = 0;
	int64_t deadline = httpc_now_ms() + CTL_TIMEOUT_MS;
	struct pollfd p[2];
	pid_t pid;
	int ws;

	memset(&run, 0, sizeof(run));
	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(out[0]);
		close(err[0]);
		execve(VD_VIADUCTCTL, (char *const *)argv, (char *const *)env);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
	while ((p[0].fd >= 0 || p[1].fd >= 0) && httpc_now_ms() < deadline) {
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents && !drain_fd(out[0], run.out, sizeof(run.out), &out_len))
			p[0].fd = -1;
		if (p[1].revents && !drain_fd(err[0], run.err, sizeof(run.err), &err_len))
			p[1].fd = -1;
	}
	if (p[0].fd >= 0 || p[1].fd >= 0)
		kill(pid, SIGKILL); /* over time: fail below, do not hang */
	close(out[0]);
	close(err[0]);
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	run.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static const char *const no_env[] = {NULL};

#define CTL(...) ctl((const char *const[]){"viaductctl", "-a", srv_addr, __VA_ARGS__, NULL}, no_env)

CTL_TEST(status)
{
	CTL("status");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect_str_eq(run.out, STATUS_JSON);
	cr_expect_str_eq(run.err, "");
}

CTL_TEST(metrics)
{
	struct prom_doc d;

	CTL("metrics");
	cr_assert_eq(run.status, 0, "stderr: %s", run.err);
	parse_ok(run.out, strlen(run.out), &d);
	EXPECT(&d, 110, "viaduct_received_requests_total", "method", "INVITE", NULL);
	prom_doc_free(&d);
}

CTL_TEST(drain)
{
	CTL("drain", POOL, "[::1]:5070");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect_str_eq(run.out, "{\"ok\":true,\"pool\":\"pcscf\",\"member\":\"[::1]:5070\","
				  "\"draining\":true}\n");
	cr_expect_str_eq(fake.member, "[::1]:5070");
	cr_expect(fake.drain);
	CTL("undrain", POOL, "0");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect(!fake.drain);
	cr_expect_eq(fake.drain_calls, 2);
}

/* Names are percent-encoded by viaductctl and decoded by the server: they arrive intact. */
CTL_TEST(drain_odd_names)
{
	CTL("drain", "p o/o%l?#\xc3\xa9", "m\"1");
	cr_expect_eq(run.status, 1);
	cr_expect_str_eq(fake.pool, "p o/o%l?#\xc3\xa9");
	cr_expect_str_eq(fake.member, "m\"1");
	cr_expect_str_eq(run.err,
			 "viaductctl: HTTP 404 Not Found: no pool \"p o/o%l?#\xc3\xa9\"\n");
}

CTL_TEST(drain_unknown)
{
	CTL("drain", POOL, "127.0.0.9:5070");
	cr_expect_eq(run.status, 1);
	cr_expect_str_eq(run.out, "");
	cr_expect_str_eq(run.err, "viaductctl: HTTP 404 Not Found: no member \"127.0.0.9:5070\" "
				  "in pool pcscf\n");
}

CTL_TEST(reload)
{
	CTL("reload");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	CTL("reload");
	cr_expect_eq(run.status, 1);
	cr_expect_str_eq(run.err, "viaductctl: HTTP 409 Conflict: " RELOAD_BAD_MSG "\n");
}

CTL_TEST(address_from_environment)
{
	char env[80];

	snprintf(env, sizeof(env), "VIADUCT_ADMIN=%s", srv_addr);
	ctl((const char *const[]){"viaductctl", "status", NULL}, (const char *const[]){env, NULL});
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect_str_eq(run.out, STATUS_JSON);
}

CTL_TEST(usage_errors)
{
	static const char *const cases[][5] = {
		{"viaductctl", NULL},
		{"viaductctl", "frobnicate", NULL},
		{"viaductctl", "status", "extra", NULL},
		{"viaductctl", "drain", POOL, NULL},
		{"viaductctl", "drain", POOL, "", NULL},
		{"viaductctl", "-a", "127.0.0.1", "status", NULL},
		{"viaductctl", "-a", "::1:80", "status", NULL},
		{"viaductctl", "-t", "0", "status", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl(cases[i], no_env);
		cr_expect_eq(run.status, 2, "case %zu: exit %d", i, run.status);
		cr_expect_neq(run.err[0], '\0', "case %zu: no message", i);
	}
	cr_expect_eq(fake.drain_calls, 0);
}

CTL_TEST(no_server)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char addr[64];

	/* a bound port that does not listen: connections are refused */
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	ctl((const char *const[]){"viaductctl", "-a", addr, "status", NULL}, no_env);
	close(fd);
	cr_expect_eq(run.status, 3);
	cr_expect(strstr(run.err, "Connection refused"), "%s", run.err);
}

/* A server that accepts and never answers: viaductctl gives up at -t. */
CTL_TEST(timeout)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char addr[64];
	int64_t t0;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	t0 = httpc_now_ms();
	ctl((const char *const[]){"viaductctl", "-a", addr, "-t", "1", "status", NULL}, no_env);
	close(fd);
	cr_expect_eq(run.status, 3);
	cr_expect(strstr(run.err, "timed out"), "%s", run.err);
	cr_expect_lt(httpc_now_ms() - t0, 5000);
}
