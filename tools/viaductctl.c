/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * viaductctl: the operator's command line for viaduct's admin HTTP API (include/viaduct/
 * admin.h). One command, one HTTP/1.1 request over a plain socket (tools/httpc.h), the body
 * printed on stdout as the server sent it: JSON for status and the actions, Prometheus text
 * for metrics, so the output pipes into jq or grep.
 *
 *   viaductctl [-a HOST:PORT] [-t SECONDS] status|metrics|reload
 *   viaductctl [-a HOST:PORT] [-t SECONDS] drain|undrain POOL MEMBER
 *   viaductctl [-a HOST:PORT] [-t SECONDS] log-level [LEVEL]
 *
 * Exit codes are a contract with scripts: 0 success; 1 the server answered an HTTP error (its
 * "error" message goes to stderr); 2 usage; 3 no answer (cannot connect, timeout, not HTTP).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"

#define DEFAULT_ADDR	  "127.0.0.1:8080"
#define ADDR_ENV	  "VIADUCT_ADMIN" /* HOST:PORT when -a is not given */
#define DEFAULT_TIMEOUT_S 10
#define MAX_TIMEOUT_S	  3600
#define PATH_MAX_LEN	  2048
#define ERROR_MAX_LEN	  1024

enum exit_code { EXIT_OK = 0, EXIT_HTTP = 1, EXIT_USAGE = 2, EXIT_NO_ANSWER = 3 };

struct command {
	const char *name;
	const char *method;
	const char *path; /* NULL: /pools/POOL/members/MEMBER/<name> */
	/* with one argument: POST to path/ARG instead (log-level LEVEL) */
	bool optional_arg;
};

/* clang-format off */
static const struct command commands[] = {
	{ "status", "GET", "/status", false },
	{ "metrics", "GET", "/metrics", false },
	{ "reload", "POST", "/reload", false },
	{ "drain", "POST", NULL, false },
	{ "undrain", "POST", NULL, false },
	{ "log-level", "GET", "/log-level", true },
};
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: viaductctl [-a HOST:PORT] [-t SECONDS] COMMAND\n"
		"commands:\n"
		"  status                 pools, members, health, drain state, hot sources (JSON)\n"
		"  metrics                counters (Prometheus text format)\n"
		"  reload                 reload the configuration now\n"
		"  drain POOL MEMBER      stop sending new dialogs to MEMBER (host:port or index)\n"
		"  undrain POOL MEMBER    take MEMBER back\n"
		"  log-level              print the log level\n"
		"  log-level LEVEL        set it now: error, warn, info or debug\n"
		"options:\n"
		"  -a HOST:PORT  admin API address (default: $" ADDR_ENV ", else " DEFAULT_ADDR
		"; [::1]:PORT for IPv6)\n"
		"  -t SECONDS    give up after this long (default %d)\n"
		"  -h, --help    this text\n"
		"exit: 0 ok, 1 HTTP error, 2 usage, 3 no answer\n",
		DEFAULT_TIMEOUT_S);
}

/* Append s percent-encoded as one path segment (RFC 3986 pchar, ':' and '@' kept). */
static int encode_segment(char *out, size_t len, size_t *at, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~:@", c);

		if (*at + 4 > len)
			return -ENAMETOOLONG;
		if (plain) {
			out[(*at)++] = (char)c;
			continue;
		}
		out[(*at)++] = '%';
		out[(*at)++] = hex[c >> 4];
		out[(*at)++] = hex[c & 15];
	}
	out[*at] = '\0';
	return 0;
}

static int member_path(char *out, size_t len, const char *pool, const char *member,
		       const char *action)
{
	size_t at = 0;
	int rc;

	at = (size_t)snprintf(out, len, "/pools/");
	rc = encode_segment(out, len, &at, pool);
	if (!rc && at + sizeof("/members/") < len)
		at += (size_t)snprintf(out + at, len - at, "/members/");
	else if (!rc)
		rc = -ENAMETOOLONG;
	if (!rc)
		rc = encode_segment(out, len, &at, member);
	if (!rc && (size_t)snprintf(out + at, len - at, "/%s", action) >= len - at)
		rc = -ENAMETOOLONG;
	return rc;
}

/* Append the UTF-8 encoding of code point cp. */
static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Four hex digits at p (stops at a NUL, never reads past it) into *v. */
static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
			: p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
			: p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
						     : -1;

		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/*
 * The escape after a backslash at *pp into out (room for 4 bytes); *pp moves past it.
 * Returns the bytes written, 0 for a bad escape. A lone surrogate is written as is (CESU):
 * this is for an error message, not for storage.
 */
static size_t json_unescape(const char **pp, char *out)
{
	static const char simple[] = "b\bf\fn\nr\rt\t\\\\\"\"//";
	const char *p = *pp;
	unsigned cp, lo;

	if (*p != 'u') {
		for (size_t i = 0; simple[i]; i += 2)
			if (simple[i] == *p) {
				*out = simple[i + 1];
				*pp = p + 1;
				return 1;
			}
		return 0;
	}
	if (hex4(p + 1, &cp))
		return 0;
	*pp = p + 5;
	if (cp >= 0xd800 && cp < 0xdc00 && p[5] == '\\' && p[6] == 'u' && !hex4(p + 7, &lo) &&
	    lo >= 0xdc00 && lo < 0xe000) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*pp = p + 11;
	}
	return put_utf8(out, cp);
}

/*
 * The "error" string of a JSON answer {"error":"..."} into out, or false when the body is not
 * of that shape. Only what the admin API sends is understood: no general JSON parser here.
 */
static bool json_error(const char *body, char *out, size_t len)
{
	const char *p = strstr(body, "\"error\"");
	size_t n = 0;

	if (!p)
		return false;
	p += strlen("\"error\"");
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return false;
	p += strspn(p, " \t\r\n");
	if (*p++ != '"')
		return false;
	while (*p && *p != '"' && n + 5 < len) {
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		p++;
		size_t k = json_unescape(&p, out + n);

		if (!k)
			return false;
		n += k;
	}
	out[n] = '\0';
	return true;
}

static int report(const struct httpc_resp *r)
{
	char msg[ERROR_MAX_LEN];

	if (r->status < 400) {
		fwrite(r->body, 1, r->body_len, stdout);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_NO_ANSWER;
	}
	if (!json_error(r->body, msg, sizeof(msg)))
		snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(r->body, "\r\n"), r->body);
	fprintf(stderr, "viaductctl: HTTP %d %s%s%s\n", r->status, r->reason, msg[0] ? ": " : "",
		msg);
	return EXIT_HTTP;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Options into *addr and *timeout_s; the index of the command, or -1 (usage printed). */
static int parse_options(int argc, char **argv, const char **addr, int *timeout_s)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int opt;
	char *end;

	*addr = getenv(ADDR_ENV) && *getenv(ADDR_ENV) ? getenv(ADDR_ENV) : DEFAULT_ADDR;
	*timeout_s = DEFAULT_TIMEOUT_S;
	while ((opt = getopt_long(argc, argv, "+a:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			*addr = optarg;
			break;
		case 't':
			*timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || *timeout_s < 1 || *timeout_s > MAX_TIMEOUT_S) {
				fprintf(stderr, "viaductctl: -t %s: not 1..%d seconds\n", optarg,
					MAX_TIMEOUT_S);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	return optind;
}

/* The method and request path of the command at argv[0], or an exit code after a usage
 * message. */
static int build_path(int argc, char **argv, const struct command **cmd, const char **method,
		      char *path)
{
	*cmd = argc > 0 ? find_command(argv[0]) : NULL;
	if (!*cmd) {
		if (argc > 0)
			fprintf(stderr, "viaductctl: unknown command \"%s\"\n", argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}
	*method = (*cmd)->method;
	if ((*cmd)->optional_arg && argc == 2 && argv[1][0]) {
		size_t at = (size_t)snprintf(path, PATH_MAX_LEN, "%s/", (*cmd)->path);
		*method = "POST";
		if (encode_segment(path, PATH_MAX_LEN, &at, argv[1]) < 0) {
			fprintf(stderr, "viaductctl: argument too long\n");
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	if ((*cmd)->path) {
		if (argc != 1)
			goto usage;
		snprintf(path, PATH_MAX_LEN, "%s", (*cmd)->path);
		return EXIT_OK;
	}
	if (argc != 3 || !argv[1][0] || !argv[2][0])
		goto usage;
	if (member_path(path, PATH_MAX_LEN, argv[1], argv[2], (*cmd)->name) < 0) {
		fprintf(stderr, "viaductctl: pool or member name too long\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
usage:
	fprintf(stderr, "viaductctl: %s takes %s\n", (*cmd)->name,
		(*cmd)->optional_arg ? "no argument or LEVEL"
		: (*cmd)->path	     ? "no argument"
				     : "POOL MEMBER (both non-empty)");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	char host[HTTPC_HOST_MAX], port[HTTPC_PORT_MAX], path[PATH_MAX_LEN];
	const struct command *cmd;
	const char *method;
	struct httpc_resp r;
	const char *addr;
	int timeout_s, first, rc;

	first = parse_options(argc, argv, &addr, &timeout_s);
	if (first < 0)
		return EXIT_USAGE;
	if (httpc_split_hostport(addr, host, port) < 0) {
		fprintf(stderr, "viaductctl: \"%s\" is not HOST:PORT ([::1]:PORT for IPv6)\n",
			addr);
		return EXIT_USAGE;
	}
	rc = build_path(argc - first, argv + first, &cmd, &method, path);
	if (rc != EXIT_OK)
		return rc;
	rc = httpc_request(host, port, method, path, timeout_s * 1000, &r);
	if (rc < 0) {
		fprintf(stderr, "viaductctl: %s %s on %s: %s\n", method, path, addr,
			rc == -EPROTO ? "the answer is not HTTP/1.x" : strerror(-rc));
		return EXIT_NO_ANSWER;
	}
	rc = report(&r);
	httpc_resp_free(&r);
	return rc;
}
