/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: what it accepts,
 * Prometheus accepts, and a bit more is refused on purpose so that our output stays plain.
 * Written from the format description, not from our renderer, so it can catch the renderer.
 *
 * Refused (the ones marked * are stricter than Prometheus itself):
 *   - invalid UTF-8; a '\r'; a last line without '\n'; an empty line (*)
 *   - "# HELP name text" / "# TYPE name type": a bad metric name, an unknown type, a second
 *     HELP or TYPE for a family, either after the family's first sample, a bad escape in HELP
 *     (only \\ and \n exist)
 *   - a sample whose family was not declared with both HELP and TYPE before it (*), or whose
 *     family is not the one being written (families must be contiguous; none twice)
 *   - labels: a bad or "__"-prefixed name, a name twice, an escape other than \\ \" \n, an
 *     unterminated value, "{}" or a trailing comma (*)
 *   - anything but one space between labels and value and before a timestamp (*); a value
 *     that is not a float, +Inf, -Inf or NaN; a timestamp that is not an integer
 *   - the same series (name and label set, in any order) twice
 *   - counters: a family name not ending in _total (naming convention), a negative or NaN value
 *
 * Header-only (static inline) for the test files; allocation failures abort.
 */
#ifndef VIADUCT_TESTS_PROM_PARSE_H
#define VIADUCT_TESTS_PROM_PARSE_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_LABELS 16
#define PROM_TYPE_MAX	16

struct prom_label {
	char *name, *value;
};

struct prom_sample {
	char *name;
	unsigned family; /* index in doc->fam */
	unsigned n_labels;
	struct prom_label labels[PROM_MAX_LABELS];
	double value;
	char *key; /* name and sorted labels: identifies the series */
	unsigned line;
};

struct prom_family {
	char *name;
	char *help; /* unescaped; NULL until its HELP line */
	char type[PROM_TYPE_MAX];
	unsigned n_samples;
};

struct prom_doc {
	struct prom_family *fam;
	unsigned n_fam;
	struct prom_sample *s;
	unsigned n;
};

/* Parser state: where we are and where errors go. */
struct prom_cursor {
	const char *p, *end; /* the current line, without its '\n' */
	unsigned line;
	char *err;
	size_t errlen;
};

static inline void *prom_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static inline char *prom_xstrndup(const char *s, size_t n)
{
	char *d = prom_xrealloc(NULL, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static inline int prom_fail(struct prom_cursor *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline int prom_fail(struct prom_cursor *c, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "line %u: ", c->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Bytes of the valid UTF-8 sequence at p (end-bounded), 0 if invalid (RFC 3629). */
static inline size_t prom_utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned cp, n, min;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, cp = p[0] & 0x1fu, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0fu, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, cp = p[0] & 0x07u, min = 0x10000;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static inline bool prom_name_char(char ch, bool first, bool metric)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_')
		return true;
	if (metric && ch == ':')
		return true;
	return !first && ch >= '0' && ch <= '9';
}

/* A metric (or label) name at c->p; its length, 0 if none. */
static inline size_t prom_name_len(const struct prom_cursor *c, bool metric)
{
	size_t n = 0;

	while (c->p + n < c->end && prom_name_char(c->p[n], n == 0, metric))
		n++;
	return n;
}

static inline bool prom_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* A float as Go's ParseFloat takes it in this format, +Inf, -Inf or NaN. */
static inline bool prom_parse_value(const char *s, size_t n, double *v)
{
	char tmp[64], *end;
	size_t i = 0, digits = 0;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (!strcmp(tmp, "+Inf") || !strcmp(tmp, "-Inf") || !strcmp(tmp, "NaN")) {
		*v = tmp[0] == 'N' ? NAN : tmp[0] == '-' ? -INFINITY : INFINITY;
		return true;
	}
	/* [+-] digits [. digits] [e [+-] digits]: no hex, no "inf", no "nan(...)" */
	if (tmp[i] == '+' || tmp[i] == '-')
		i++;
	for (; tmp[i] >= '0' && tmp[i] <= '9'; i++)
		digits++;
	if (tmp[i] == '.')
		for (i++; tmp[i] >= '0' && tmp[i] <= '9'; i++)
			digits++;
	if (!digits)
		return false;
	if (tmp[i] == 'e' || tmp[i] == 'E') {
		i++;
		if (tmp[i] == '+' || tmp[i] == '-')
			i++;
		if (tmp[i] < '0' || tmp[i] > '9')
			return false;
		while (tmp[i] >= '0' && tmp[i] <= '9')
			i++;
	}
	if (tmp[i])
		return false;
	*v = strtod(tmp, &end);
	return *end == '\0';
}

/* Unescape a HELP text or a label value (quoted: stop at the closing '"'). */
static inline int prom_unescape(struct prom_cursor *c, bool quoted, char **out)
{
	char *d = prom_xrealloc(NULL, (size_t)(c->end - c->p) + 1);
	size_t n = 0;

	while (c->p < c->end && !(quoted && *c->p == '"')) {
		char ch = *c->p++;

		if (ch == '\\') {
			char e = c->p < c->end ? *c->p++ : '\0';

			if (e == 'n')
				ch = '\n';
			else if (e == '\\' || (quoted && e == '"'))
				ch = e;
			else {
				free(d);
				return prom_fail(c, "bad escape \\%c", e ? e : '?');
			}
		}
		d[n++] = ch;
	}
	if (quoted && c->p == c->end) {
		free(d);
		return prom_fail(c, "unterminated label value");
	}
	c->p += quoted; /* the closing quote */
	d[n] = '\0';
	*out = d;
	return 0;
}

static inline int prom_find_family(const struct prom_doc *d, const char *name, size_t n)
{
	for (unsigned i = 0; i < d->n_fam; i++)
		if (strlen(d->fam[i].name) == n && !memcmp(d->fam[i].name, name, n))
			return (int)i;
	return -1;
}

/* "# HELP name text" or "# TYPE name type" (c->p after "# HELP " / "# TYPE "). */
static inline int prom_parse_meta(struct prom_doc *d, struct prom_cursor *c, bool help)
{
	size_t n = prom_name_len(c, true);
	const char *name = c->p;
	int i;
	struct prom_family *f;

	if (!n || c->p + n == c->end || c->p[n] != ' ')
		return prom_fail(c, "bad %s line", help ? "HELP" : "TYPE");
	i = prom_find_family(d, name, n);
	if (i >= 0 && (unsigned)i != d->n_fam - 1)
		return prom_fail(c, "family %.*s declared again", (int)n, name);
	if (i < 0) {
		d->fam = prom_xrealloc(d->fam, (d->n_fam + 1) * sizeof(*d->fam));
		f = &d->fam[d->n_fam++];
		memset(f, 0, sizeof(*f));
		f->name = prom_xstrndup(name, n);
	} else {
		f = &d->fam[i];
	}
	if (f->n_samples)
		return prom_fail(c, "%s of %s after its samples", help ? "HELP" : "TYPE", f->name);
	if (help ? f->help != NULL : f->type[0] != '\0')
		return prom_fail(c, "second %s for %s", help ? "HELP" : "TYPE", f->name);
	c->p += n + 1;
	if (help)
		return prom_unescape(c, false, &f->help);
	n = (size_t)(c->end - c->p);
	if (n >= PROM_TYPE_MAX || !n)
		return prom_fail(c, "bad type");
	memcpy(f->type, c->p, n);
	f->type[n] = '\0';
	if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") &&
	    strcmp(f->type, "histogram") && strcmp(f->type, "summary") &&
	    strcmp(f->type, "untyped"))
		return prom_fail(c, "unknown type \"%s\"", f->type);
	if (!strcmp(f->type, "counter") && !prom_ends_with(f->name, strlen(f->name), "_total"))
		return prom_fail(c, "counter %s does not end in _total", f->name);
	return 0;
}

/* Does sample name (n bytes) belong to family f? */
static inline bool prom_in_family(const struct prom_family *f, const char *name, size_t n)
{
	size_t fn = strlen(f->name);
	const char *rest = name + fn;
	size_t rn = n - fn;

	if (n < fn || memcmp(name, f->name, fn))
		return false;
	if (rn == 0)
		return strcmp(f->type, "histogram") != 0;
	if (!strcmp(f->type, "histogram"))
		return (rn == 7 && !memcmp(rest, "_bucket", 7)) ||
		       (rn == 4 && !memcmp(rest, "_sum", 4)) ||
		       (rn == 6 && !memcmp(rest, "_count", 6));
	if (!strcmp(f->type, "summary"))
		return (rn == 4 && !memcmp(rest, "_sum", 4)) ||
		       (rn == 6 && !memcmp(rest, "_count", 6));
	return false;
}

static inline int prom_parse_labels(struct prom_cursor *c, struct prom_sample *s)
{
	if (c->p == c->end || *c->p != '{')
		return 0;
	c->p++;
	for (;;) {
		size_t n = prom_name_len(c, false);
		struct prom_label *l;

		if (!n)
			return prom_fail(c, "expected a label name");
		if (n >= 2 && c->p[0] == '_' && c->p[1] == '_')
			return prom_fail(c, "reserved label name %.*s", (int)n, c->p);
		for (unsigned i = 0; i < s->n_labels; i++)
			if (strlen(s->labels[i].name) == n && !memcmp(s->labels[i].name, c->p, n))
				return prom_fail(c, "label %.*s twice", (int)n, c->p);
		if (s->n_labels == PROM_MAX_LABELS)
			return prom_fail(c, "too many labels");
		l = &s->labels[s->n_labels];
		l->name = prom_xstrndup(c->p, n);
		s->n_labels++;
		c->p += n;
		if (c->end - c->p < 2 || c->p[0] != '=' || c->p[1] != '"')
			return prom_fail(c, "expected =\" after label %s", l->name);
		c->p += 2;
		if (prom_unescape(c, true, &l->value))
			return -1;
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return 0;
		}
		if (c->p == c->end || *c->p != ',')
			return prom_fail(c, "expected , or } after a label value");
		c->p++;
	}
}

static inline int prom_label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

/* The series key: name, then the labels sorted by name (bytes 1 and 2 cannot be in them). */
static inline char *prom_series_key(const struct prom_sample *s)
{
	struct prom_label sorted[PROM_MAX_LABELS];
	size_t len = strlen(s->name) + 1;
	char *key;

	memcpy(sorted, s->labels, s->n_labels * sizeof(sorted[0]));
	qsort(sorted, s->n_labels, sizeof(sorted[0]), prom_label_cmp);
	for (unsigned i = 0; i < s->n_labels; i++)
		len += strlen(sorted[i].name) + strlen(sorted[i].value) + 2;
	key = prom_xrealloc(NULL, len);
	strcpy(key, s->name);
	for (unsigned i = 0; i < s->n_labels; i++) {
		strcat(key, "\x01");
		strcat(key, sorted[i].name);
		strcat(key, "\x02");
		strcat(key, sorted[i].value);
	}
	return key;
}

/* The value and optional timestamp after the labels. */
static inline int prom_parse_value_ts(struct prom_cursor *c, struct prom_sample *s)
{
	const char *v, *sp;

	if (c->p == c->end || *c->p != ' ')
		return prom_fail(c, "expected one space before the value");
	v = ++c->p;
	sp = memchr(v, ' ', (size_t)(c->end - v));
	if (!prom_parse_value(v, (size_t)((sp ? sp : c->end) - v), &s->value))
		return prom_fail(c, "bad value \"%.*s\"", (int)((sp ? sp : c->end) - v), v);
	if (sp) {
		const char *t = sp + 1;

		if (t < c->end && *t == '-')
			t++;
		if (t == c->end)
			return prom_fail(c, "bad timestamp");
		for (; t < c->end; t++)
			if (*t < '0' || *t > '9')
				return prom_fail(c, "bad timestamp");
	}
	return 0;
}

static inline int prom_parse_sample(struct prom_doc *d, struct prom_cursor *c)
{
	size_t n = prom_name_len(c, true);
	struct prom_family *f = d->n_fam ? &d->fam[d->n_fam - 1] : NULL;
	struct prom_sample *s;

	if (!n)
		return prom_fail(c, "expected a metric name");
	if (!f || !prom_in_family(f, c->p, n)) {
		int i = -1;

		for (unsigned k = 0; k < d->n_fam && i < 0; k++)
			if (prom_in_family(&d->fam[k], c->p, n))
				i = (int)k;
		return prom_fail(c, "sample %.*s: %s", (int)n, c->p,
				 i >= 0 ? "its family is not contiguous"
					: "no HELP/TYPE before it");
	}
	if (!f->help || !f->type[0])
		return prom_fail(c, "family %s lacks a %s line", f->name,
				 f->help ? "TYPE" : "HELP");
	d->s = prom_xrealloc(d->s, (d->n + 1) * sizeof(*d->s));
	s = &d->s[d->n++];
	memset(s, 0, sizeof(*s));
	s->name = prom_xstrndup(c->p, n);
	s->family = d->n_fam - 1;
	s->line = c->line;
	c->p += n;
	f->n_samples++;
	if (prom_parse_labels(c, s) || prom_parse_value_ts(c, s))
		return -1;
	if (!strcmp(f->type, "counter") && !(s->value >= 0))
		return prom_fail(c, "counter %s has value %g", s->name, s->value);
	s->key = prom_series_key(s);
	return 0;
}

static inline int prom_parse_line(struct prom_doc *d, struct prom_cursor *c)
{
	size_t n = (size_t)(c->end - c->p);

	if (n == 0)
		return prom_fail(c, "empty line");
	if (memchr(c->p, '\r', n))
		return prom_fail(c, "carriage return");
	if (c->p[0] != '#')
		return prom_parse_sample(d, c);
	if (n > 7 && !memcmp(c->p, "# HELP ", 7)) {
		c->p += 7;
		return prom_parse_meta(d, c, true);
	}
	if (n > 7 && !memcmp(c->p, "# TYPE ", 7)) {
		c->p += 7;
		return prom_parse_meta(d, c, false);
	}
	return 0; /* a comment */
}

static inline int prom_key_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct prom_sample *const *)a)->key,
		      (*(const struct prom_sample *const *)b)->key);
}

static inline int prom_check_duplicates(const struct prom_doc *d, char *err, size_t errlen)
{
	const struct prom_sample **v = prom_xrealloc(NULL, d->n * sizeof(*v));
	int rc = 0;

	for (unsigned i = 0; i < d->n; i++)
		v[i] = &d->s[i];
	qsort(v, d->n, sizeof(*v), prom_key_cmp);
	for (unsigned i = 1; i < d->n && !rc; i++)
		if (!strcmp(v[i - 1]->key, v[i]->key)) {
			snprintf(err, errlen, "line %u: series of line %u again (%s)",
				 v[i]->line > v[i - 1]->line ? v[i]->line : v[i - 1]->line,
				 v[i]->line > v[i - 1]->line ? v[i - 1]->line : v[i]->line,
				 v[i]->name);
			rc = -1;
		}
	free(v);
	return rc;
}

static inline void prom_doc_free(struct prom_doc *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		for (unsigned k = 0; k < d->s[i].n_labels; k++) {
			free(d->s[i].labels[k].name);
			free(d->s[i].labels[k].value);
		}
		free(d->s[i].name);
		free(d->s[i].key);
	}
	for (unsigned i = 0; i < d->n_fam; i++) {
		free(d->fam[i].name);
		free(d->fam[i].help);
	}
	free(d->s);
	free(d->fam);
	memset(d, 0, sizeof(*d));
}

/* Parse len bytes of text into *d (zeroed first; free with prom_doc_free even on error). */
static inline int prom_parse(const char *text, size_t len, struct prom_doc *d, char *err,
			     size_t errlen)
{
	struct prom_cursor c = {.err = err, .errlen = errlen};
	const char *p = text, *end = text + len;

	memset(d, 0, sizeof(*d));
	err[0] = '\0';
	for (const unsigned char *u = (const unsigned char *)text;
	     u < (const unsigned char *)end;) {
		size_t k = prom_utf8_len(u, (const unsigned char *)end);

		if (!k || !*u) {
			c.line = 1;
			for (const char *q = text; q < (const char *)u; q++)
				c.line += *q == '\n';
			return prom_fail(&c, "invalid UTF-8 or NUL byte");
		}
		u += k;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		c.line++;
		if (!nl)
			return prom_fail(&c, "no newline at the end");
		c.p = p;
		c.end = nl;
		if (prom_parse_line(d, &c))
			return -1;
		p = nl + 1;
	}
	return prom_check_duplicates(d, err, errlen);
}

/* The value of a label of s, or NULL. */
static inline const char *prom_label(const struct prom_sample *s, const char *name)
{
	for (unsigned i = 0; i < s->n_labels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

/* The sample with this name and exactly these labels ("k", "v", ..., NULL), or NULL. */
static inline const struct prom_sample *prom_vfind(const struct prom_doc *d, const char *name,
						   va_list ap)
{
	const char *k[PROM_MAX_LABELS], *v[PROM_MAX_LABELS];
	unsigned n = 0;

	while (n < PROM_MAX_LABELS && (k[n] = va_arg(ap, const char *)) != NULL) {
		v[n] = va_arg(ap, const char *);
		n++;
	}
	for (unsigned i = 0; i < d->n; i++) {
		const struct prom_sample *s = &d->s[i];
		bool ok = !strcmp(s->name, name) && s->n_labels == n;

		for (unsigned j = 0; ok && j < n; j++) {
			const char *have = prom_label(s, k[j]);

			ok = have && !strcmp(have, v[j]);
		}
		if (ok)
			return s;
	}
	return NULL;
}

static inline const struct prom_sample *prom_find(const struct prom_doc *d, const char *name, ...)
	__attribute__((sentinel));

static inline const struct prom_sample *prom_find(const struct prom_doc *d, const char *name, ...)
{
	const struct prom_sample *s;
	va_list ap;

	va_start(ap, name);
	s = prom_vfind(d, name, ap);
	va_end(ap);
	return s;
}

static inline const struct prom_family *prom_family(const struct prom_doc *d, const char *name)
{
	int i = prom_find_family(d, name, strlen(name));

	return i < 0 ? NULL : &d->fam[i];
}

#endif
