/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the admin API's HTTP server and its routes (src/ctl/admin.c). The server runs
 * for real on 127.0.0.1 with an ephemeral port, with fake ops whose answers are known, and is
 * spoken to over sockets by the client viaductctl uses (tools/httpc.h): every route and its
 * errors, percent-decoding, bodies read and thrown away, IPv6, start and stop.
 * Shared fakes and checks: tests/support/admin_fixture.h.
 */
#include "admin_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG_BODY (200u * 1024) /* takes the server several reads */

#define HTTP_TEST(name)                                                                            \
	Test(http, name, .init = server_up, .fini = server_down, .timeout = TEST_TIMEOUT_S)

/* ==== the HTTP server ==== */

HTTP_TEST(metrics_endpoint)
{
	struct httpc_resp r;
	struct prom_doc d;

	request("GET", "/metrics", &r);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_METRICS);
	cr_expect_str_eq(header(&r, "Cache-Control"), "no-store");
	parse_ok(r.body, r.body_len, &d);
	EXPECT(&d, 70, "viaduct_worker_received_requests_total", "worker", "1", "method", "INVITE",
	       NULL);
	EXPECT(&d, 110, "viaduct_received_requests_total", "method", "INVITE", NULL);
	EXPECT(&d, 12, "viaduct_drops_total", "reason", "not-sip", NULL);
	expect_sums(&d);
	prom_doc_free(&d);
	httpc_resp_free(&r);
}

HTTP_TEST(metrics_ignores_query)
{
	struct httpc_resp r;

	request("GET", "/metrics?name[]=viaduct_drops_total", &r);
	cr_expect_eq(r.status, 200);
	httpc_resp_free(&r);
}

HTTP_TEST(head_has_headers_only)
{
	struct httpc_resp r;

	request("HEAD", "/metrics", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_METRICS);
	cr_expect_eq(r.body_len, 0);
	cr_expect_eq(r.consumed, r.raw_len, "bytes after the headers of a HEAD answer");
	httpc_resp_free(&r);
}

HTTP_TEST(status_endpoint)
{
	struct httpc_resp r;

	request("GET", "/status", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_JSON);
	cr_expect_str_eq(r.body, STATUS_JSON);
	httpc_resp_free(&r);
}

HTTP_TEST(reload_ok_then_errors)
{
	struct httpc_resp r;

	request("POST", "/reload", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_JSON);
	cr_expect_str_eq(r.body, "{\"ok\":true}\n");
	httpc_resp_free(&r);

	request("POST", "/reload", &r);
	expect_json_error(&r, 409, "{\"error\":\"" RELOAD_BAD_MSG "\"}\n");
	httpc_resp_free(&r);

	request("POST", "/reload", &r); /* -EIO without a message: strerror */
	expect_json_error(&r, 500, "{\"error\":\"Input/output error\"}\n");
	httpc_resp_free(&r);
	cr_expect_eq(fake.reload_calls, 3);
}

HTTP_TEST(drain_and_undrain)
{
	struct httpc_resp r;

	request("POST", "/pools/pcscf/members/127.0.0.1:5070/drain", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(r.body, "{\"ok\":true,\"pool\":\"pcscf\",\"member\":\"127.0.0.1:5070\","
				 "\"draining\":true}\n");
	cr_expect_str_eq(fake.pool, POOL);
	cr_expect_str_eq(fake.member, "127.0.0.1:5070");
	cr_expect(fake.drain);
	httpc_resp_free(&r);

	request("POST", "/pools/pcscf/members/1/undrain", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(r.body, "{\"ok\":true,\"pool\":\"pcscf\",\"member\":\"1\","
				 "\"draining\":false}\n");
	cr_expect(!fake.drain);
	cr_expect_eq(fake.drain_calls, 2);
	httpc_resp_free(&r);
}

HTTP_TEST(drain_decodes_segments)
{
	struct httpc_resp r;

	request("POST", "/pools/pc%73cf/members/%5B%3a%3A1%5D:5070/drain", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(fake.pool, POOL);
	cr_expect_str_eq(fake.member, "[::1]:5070");
	httpc_resp_free(&r);

	/* an encoded '/' stays inside its segment; '+' is not a space in a path */
	request("POST", "/pools/pcscf/members/a%2Fb+c/drain", &r);
	expect_json_error(&r, 404, "{\"error\":\"no member \\\"a/b+c\\\" in pool pcscf\"}\n");
	cr_expect_str_eq(fake.member, "a/b+c");
	httpc_resp_free(&r);
}

HTTP_TEST(drain_errors)
{
	struct httpc_resp r;

	request("POST", "/pools/nope/members/0/drain", &r);
	expect_json_error(&r, 404, "{\"error\":\"no pool \\\"nope\\\"\"}\n");
	httpc_resp_free(&r);

	request("POST", "/pools/pcscf/members/127.0.0.9:5070/undrain", &r);
	expect_json_error(&r, 404,
			  "{\"error\":\"no member \\\"127.0.0.9:5070\\\" in pool pcscf\"}\n");
	cr_expect(!fake.drain);
	httpc_resp_free(&r);

	request("POST", "/pools/pcscf/members/busy/drain", &r);
	expect_json_error(&r, 409, "{\"error\":\"Device or resource busy\"}\n");
	httpc_resp_free(&r);

	/* names with quotes, newlines and UTF-8 come back as valid JSON */
	request("POST", "/pools/q%22%0A%C3%A9/members/0/drain", &r);
	expect_json_error(&r, 404, "{\"error\":\"no pool \\\"q\\\"\\n\xc3\xa9\\\"\"}\n");
	cr_expect_str_eq(fake.pool, "q\"\n\xc3\xa9");
	httpc_resp_free(&r);

	request("POST", "/pools/%FF/members/0/drain", &r); /* not UTF-8: replaced */
	expect_json_error(&r, 404, "{\"error\":\"no pool \\\"\\ufffd\\\"\"}\n");
	httpc_resp_free(&r);
}

HTTP_TEST(bad_percent_encoding)
{
	static const char *const paths[] = {
		"/pools/pcscf/members/%zz/drain",
		"/pools/pcscf/members/ab%/drain",
		"/pools/pcscf/members/ab%4/drain",
		"/pools/pcscf/members/a%00b/drain",
		"/metric%",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct httpc_resp r;

		request("POST", paths[i], &r);
		expect_json_error(&r, 400, "{\"error\":\"bad percent-encoding in the path\"}\n");
		httpc_resp_free(&r);
	}
	cr_expect_eq(fake.drain_calls, 0);
}

HTTP_TEST(wrong_method_is_405)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{"GET", "/reload", "POST"},
		{"PUT", "/reload", "POST"},
		{"POST", "/metrics", "GET, HEAD"},
		{"DELETE", "/metrics", "GET, HEAD"},
		{"POST", "/status", "GET, HEAD"},
		{"GET", "/pools/pcscf/members/0/drain", "POST"},
		{"PUT", "/pools/pcscf/members/0/undrain", "POST"},
		{"OPTIONS", "/status", "GET, HEAD"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpc_resp r;

		request(cases[i].method, cases[i].path, &r);
		expect_json_error(&r, 405, "{\"error\":\"method not allowed\"}\n");
		cr_expect_str_eq(header(&r, "Allow"), cases[i].allow, "%s %s", cases[i].method,
				 cases[i].path);
		httpc_resp_free(&r);
	}
	cr_expect_eq(fake.reload_calls + fake.drain_calls, 0);
}

HTTP_TEST(unknown_path_is_404)
{
	static const char *const paths[] = {
		"/",
		"/nope",
		"/metrics/",
		"/Metrics",
		"//metrics",
		"/metrics/x",
		"/pools",
		"/pools/pcscf",
		"/pools/pcscf/members/0",
		"/pools/pcscf/members/0/frobnicate",
		"/pools/pcscf/members/0/drain/",
		"/pools/pcscf/members/0/drain/x",
		"/pools//members/0/drain",
		"/pools/pcscf/members//drain",
		"/pools/pcscf/member/0/drain",
		"/pool/pcscf/members/0/drain",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct httpc_resp r;

		request("POST", paths[i], &r);
		expect_json_error(&r, 404, "{\"error\":\"not found\"}\n");
		httpc_resp_free(&r);
		request("GET", paths[i], &r);
		cr_expect_eq(r.status, 404, "GET %s", paths[i]);
		httpc_resp_free(&r);
	}
	cr_expect_eq(fake.drain_calls, 0);
}

HTTP_TEST(long_segment_is_404)
{
	char path[1024];
	struct httpc_resp r;

	snprintf(path, sizeof(path), "/pools/pcscf/members/%0300d/drain", 0);
	request("POST", path, &r);
	cr_expect_eq(r.status, 404);
	httpc_resp_free(&r);
}

/* A body is read and thrown away, and the connection stays usable for the next request. */
HTTP_TEST(post_bodies_are_consumed)
{
	static const char next[] = "GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	static const char *const heads[] = {
		"POST /reload HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
		"POST /reload HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n"
		"Expect: 100-continue\r\n\r\n",
	};
	char *req = malloc(BIG_BODY + 512);

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct httpc_resp r, r2;
		int n = snprintf(req, 512, heads[i], BIG_BODY);

		memset(req + n, 'b', BIG_BODY);
		memcpy(req + n + BIG_BODY, next, sizeof(next) - 1);
		fake.reload_calls = 0;
		exchange(req, (size_t)n + BIG_BODY + sizeof(next) - 1, &r);
		cr_expect_eq(r.status, 200, "case %zu: %s", i, r.body);
		cr_expect_str_eq(r.body, "{\"ok\":true}\n");
		r2 = r;
		r2.body = NULL;
		cr_assert_eq(httpc_parse(&r2, r.consumed, false), 0, "case %zu: no second answer",
			     i);
		cr_expect_eq(r2.status, 200);
		cr_expect_str_eq(r2.body, STATUS_JSON);
		free(r2.body);
		httpc_resp_free(&r);
		cr_expect_eq(fake.reload_calls, 1);
	}
	free(req);
}

HTTP_TEST(chunked_body_is_consumed)
{
	static const char req[] = "POST /pools/pcscf/members/0/drain HTTP/1.1\r\nHost: t\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"
				  "GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	struct httpc_resp r, r2;

	exchange(req, sizeof(req) - 1, &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(fake.member, "0");
	r2 = r;
	r2.body = NULL;
	cr_assert_eq(httpc_parse(&r2, r.consumed, false), 0);
	cr_expect_str_eq(r2.body, STATUS_JSON);
	free(r2.body);
	httpc_resp_free(&r);
}

HTTP_TEST(render_oom_is_500)
{
	struct httpc_resp r;

	fake.metrics_oom = true;
	request("GET", "/metrics", &r);
	expect_json_error(&r, 500, "{\"error\":\"out of memory\"}\n");
	httpc_resp_free(&r);
}

HTTP_TEST(many_requests_in_a_row)
{
	for (int i = 0; i < 200; i++) {
		struct httpc_resp r;

		request("GET", i % 2 ? "/status" : "/metrics", &r);
		cr_assert_eq(r.status, 200, "request %d", i);
		httpc_resp_free(&r);
	}
}

Test(http, missing_callbacks_are_501, .timeout = TEST_TIMEOUT_S)
{
	static const struct {
		const char *method, *path;
	} cases[] = {
		{"GET", "/metrics"},
		{"GET", "/status"},
		{"POST", "/reload"},
		{"POST", "/pools/p/members/m/drain"},
	};
	struct vd_admin_ops none = {.arg = NULL};
	char err[ERR_LEN], port[HTTPC_PORT_MAX];
	struct vd_admin *a = vd_admin_start("127.0.0.1", 0, &none, err, sizeof(err));

	cr_assert_not_null(a, "%s", err);
	snprintf(port, sizeof(port), "%u", vd_admin_port(a));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpc_resp r;

		cr_assert_eq(httpc_request("127.0.0.1", port, cases[i].method, cases[i].path,
					   HTTP_TIMEOUT_MS, &r),
			     0);
		expect_json_error(&r, 501, "{\"error\":\"not implemented\"}\n");
		httpc_resp_free(&r);
	}
	vd_admin_stop(a);
}

Test(http, ipv6_loopback, .timeout = TEST_TIMEOUT_S)
{
	static const char *const addrs[] = {"::1", "[::1]"};
	char err[ERR_LEN], port[HTTPC_PORT_MAX];

	memset(&fake, 0, sizeof(fake));
	for (size_t i = 0; i < 2; i++) {
		struct vd_admin *a = vd_admin_start(addrs[i], 0, &fake_ops, err, sizeof(err));
		struct httpc_resp r;

		if (!a && strstr(err, "Cannot assign requested address"))
			cr_skip_test("no ::1 here: %s", err);
		cr_assert_not_null(a, "%s", err);
		snprintf(port, sizeof(port), "%u", vd_admin_port(a));
		cr_assert_eq(httpc_request("::1", port, "GET", "/status", HTTP_TIMEOUT_MS, &r), 0);
		cr_expect_eq(r.status, 200);
		cr_expect_str_eq(r.body, STATUS_JSON);
		httpc_resp_free(&r);
		vd_admin_stop(a);
	}
}

Test(http, start_errors, .timeout = TEST_TIMEOUT_S)
{
	static const char *const bad[] = {"localhost", "999.1.1.1",  "",  "[127.0.0.1",
					  "::1]",      "1.2.3.4:80", NULL};
	char err[ERR_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_null(vd_admin_start(bad[i], 0, &fake_ops, err, sizeof(err)), "%s",
			       bad[i] ? bad[i] : "NULL");
		cr_expect(strstr(err, "not a numeric IPv4 or IPv6 address"), "%s", err);
	}
	cr_expect_null(vd_admin_start("127.0.0.1", 0, NULL, err, sizeof(err)));
	cr_expect_str_eq(err, "admin: no operations given");
	cr_expect_null(vd_admin_start("192.0.2.1", 0, &fake_ops, err, sizeof(err)));
	cr_expect_str_eq(err, "admin 192.0.2.1:0: cannot bind: Cannot assign requested address");
	cr_expect_null(vd_admin_start("nope", 0, &fake_ops, NULL, 0)); /* no err buffer: fine */
	vd_admin_stop(NULL);
}

HTTP_TEST(address_in_use)
{
	char err[ERR_LEN], want[ERR_LEN];
	struct vd_admin *again =
		vd_admin_start("127.0.0.1", vd_admin_port(srv), &fake_ops, err, sizeof(err));

	cr_expect_null(again);
	snprintf(want, sizeof(want), "admin %s: cannot bind: Address already in use", srv_addr);
	cr_expect_str_eq(err, want);
	vd_admin_stop(again);
}

/* Stop with a client still connected and idle: must not hang. */
HTTP_TEST(stop_with_idle_client)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(vd_admin_port(srv))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(write(fd, "GET /sta", 8), 8);
	usleep(50 * 1000);
	vd_admin_stop(srv);
	srv = NULL;
	close(fd);
}
