#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""check_queries.py: contrib/grafana and contrib/prometheus hold only what viaduct exports.

  check_queries.py self-test
      the PromQL tokenizer below on tricky expressions (strings, label lists, durations,
      label_replace, comments, unbalanced input, an unknown function): it must find exactly
      the metric and label names it should.
  check_queries.py check SCRAPE DASHBOARD RULES ALERT_TESTS
      SCRAPE is viaduct's /metrics text. The dashboard is valid JSON, every panel has the
      datasource variable and targets with an expression; every alert has for:, a severity
      and summary/description. Every PromQL expression (panel targets, template variables,
      alert rules) and every series of the promtool unit tests (ALERT_TESTS) is tokenized:
      each metric name must be one SCRAPE has (or `up`, Prometheus' own), each label matched
      or grouped by must be one of its labels (or job/instance, a scrape's), each literal
      label value (and each alternative of a literal regex) one SCRAPE has; the unit tests'
      series must have exactly the label names of the real series.
  check_queries.py live PROM_URL DASHBOARD RULES
      The same expressions evaluated by a real Prometheus that scrapes viaduct (job
      "viaduct"), Grafana's variables replaced by "match anything" and a 1m rate interval:
      every query is accepted and evaluates without error (many-to-many joins only fail on
      real series), every query without a comparison returns series, every {{label}} of a
      legend is a label of what it returns, every template variable has values, and every
      alert rule has been evaluated with health "ok".
  check_queries.py wait PROM_URL TIMEOUT_S QUERY
      Polls the query (every 0.2 s, at most TIMEOUT_S) until it returns a series.
  check_queries.py alerts PROM_URL TIMEOUT_S [+NAME:l=v,...] [-NAME:l=v,...]
      Polls Prometheus' /api/v1/alerts (every 0.2 s, at most TIMEOUT_S) until every +alert
      is pending or firing with those labels, then checks that no -alert is.

Exit status 0 when everything holds; otherwise one line per problem on stderr and 1. The
last line on stdout says what was checked.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# ---- PromQL tokenizer ----------------------------------------------------------------------

AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
               "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "end", "exp", "floor", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace",
    "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh",
    "sort", "sort_desc", "sqrt", "start", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
# Labels every scraped series gets from Prometheus, not from viaduct.
TARGET_LABELS = {"job", "instance"}
# Labels whose values come from a deployment's config or size, not from viaduct's code: their
# values are not checked (the unit tests' member names are not the scrape's).
CONFIG_LABELS = {"pool", "member", "pool_index", "member_index", "group", "worker"}
# Series Prometheus makes itself (not in viaduct's /metrics).
PROMETHEUS_SERIES = {"up"}
COMPARISONS = re.compile(r"==|!=|>=|<=|<|>")

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<dur>(?:[0-9]+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_]))
  | (?P<num>0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@:])
""", re.X)


class PromQLError(ValueError):
    pass


def tokens(expr):
    """(kind, text) pairs; whitespace and comments dropped. PromQLError on a stray byte."""
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise PromQLError("cannot read %r at offset %d" % (expr[pos:pos + 20], pos))
        pos = m.end()
        if m.lastgroup not in ("ws", "comment"):
            out.append((m.lastgroup, m.group()))
    return out


def unquote(s):
    if s[0] == "`":
        return s[1:-1]
    return re.sub(r"\\(.)", r"\1", s[1:-1])


class Parsed:
    """What one expression uses."""

    def __init__(self):
        self.metrics = []    # metric names, in order
        self.matchers = []   # (metric or None, label, op, value)
        self.grouping = []   # labels of by/without/on/ignoring/group_left/group_right lists
        self.produced = []   # labels label_replace/label_join/count_values make
        self.sources = []    # labels label_replace/label_join read


def parse(expr):
    """Walk the tokens with a stack of open brackets, telling metric names from functions,
    keywords and label names. Raises PromQLError on unbalanced brackets or an unknown
    function (a misspelled one would otherwise read as a metric name)."""
    toks = tokens(expr)
    p = Parsed()
    stack = []  # [kind, name, commas]: kind call | group | labels | brace | bracket
    i = 0

    def peek(k):
        return toks[k] if k < len(toks) else (None, None)

    while i < len(toks):
        kind, text = toks[i]
        top = stack[-1] if stack else None
        if top and top[0] == "brace":
            # label matchers: NAME OP "VALUE" [, ...]
            if kind == "ident":
                op, val = peek(i + 1), peek(i + 2)
                if op[0] != "op" or op[1] not in ("=", "!=", "=~", "!~") or val[0] != "str":
                    raise PromQLError("bad label matcher after %r in %r" % (text, top[1]))
                value = unquote(val[1])
                if text == "__name__" and op[1] == "=":
                    p.metrics.append(value)
                    top[1] = value
                else:
                    p.matchers.append((top[1], text, op[1], value))
                i += 3
                continue
            if text == ",":
                i += 1
                continue
            if text == "}":
                stack.pop()
                i += 1
                continue
            raise PromQLError("unexpected %r inside {...}" % text)
        if top and top[0] == "bracket":
            # a range or subquery: durations and ':' (which the tokenizer may have read as
            # the start of a name, ":30s"); Prometheus itself checks them in `live`
            if text == "]":
                stack.pop()
            elif text in ("(", ")", "{", "}", "["):
                raise PromQLError("unexpected %r inside [...]" % text)
            i += 1
            continue
        if kind == "ident":
            nxt = peek(i + 1)[1]
            if top and top[0] == "labels":
                p.grouping.append(text)
            elif text in GROUPING:
                if nxt == "(":
                    stack.append(["labels", text, 0])
                    i += 1
            elif text.lower() in KEYWORDS:
                pass
            elif text in AGGREGATORS and nxt in ("(", "by", "without"):
                if nxt == "(":
                    stack.append(["call", text, 0])
                    i += 1
            elif text in FUNCTIONS and nxt == "(":
                stack.append(["call", text, 0])
                i += 1
            elif nxt == "(":
                raise PromQLError("unknown function %r" % text)
            else:
                p.metrics.append(text)
                if nxt == "{":
                    stack.append(["brace", text, 0])
                    i += 1
        elif kind == "str":
            if top and top[0] == "call":
                value = unquote(text)
                fn, n = top[1], top[2]
                # label_replace(v, DST, replacement, SRC, regex)
                if fn == "label_replace" and n == 1:
                    p.produced.append(value)
                elif fn == "label_replace" and n == 3:
                    p.sources.append(value)
                # label_join(v, DST, separator, SRC...)
                elif fn == "label_join":
                    if n == 1:
                        p.produced.append(value)
                    elif n >= 3:
                        p.sources.append(value)
                elif fn == "count_values" and n == 0:
                    p.produced.append(value)
        elif text == "{":
            stack.append(["brace", None, 0])
        elif text == "(":
            stack.append(["group", None, 0])
        elif text == "[":
            stack.append(["bracket", None, 0])
        elif text in (")", "]", "}"):
            want = {")": ("call", "group", "labels"), "]": ("bracket",), "}": ("brace",)}[text]
            if not top or top[0] not in want:
                raise PromQLError("unbalanced %r" % text)
            stack.pop()
        elif text == "," and top and top[0] == "call":
            top[2] += 1
        i += 1
    if stack:
        raise PromQLError("unclosed %r" % {"call": "(", "group": "(", "labels": "(",
                                          "brace": "{", "bracket": "["}[stack[-1][0]])
    return p


def has_filter(expr):
    """True when the expression compares (> 0, == 1, ...) outside strings and label matchers:
    then it may rightly return nothing."""
    depth = 0
    for kind, text in tokens(expr):
        depth += {"{": 1, "}": -1}.get(text, 0)
        if kind == "op" and depth == 0 and COMPARISONS.fullmatch(text):
            return True
    return False


# ---- Grafana variables ---------------------------------------------------------------------

GRAFANA_VARS = {"job", "instance", "pool", "member"}
INTERVALS = ("$__rate_interval", "$__interval", "$__range")


def grafana_expand(expr, interval="5m"):
    """Grafana's interpolation as far as a check needs it: the interval macros become a
    duration, $job/$instance/$pool/$member (only inside =~ matchers) match anything. "$1" of
    label_replace is not a variable and stays."""
    for macro in INTERVALS:
        expr = expr.replace(macro, interval)
    return re.sub(r"\$(?:\{(%s)\}|(%s)\b)" % ("|".join(GRAFANA_VARS), "|".join(GRAFANA_VARS)),
                  ".*", expr)


LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", re.S)


# ---- what viaduct exports ------------------------------------------------------------------

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Exported:
    """Names, label names and label values of a Prometheus text scrape."""

    def __init__(self, text):
        self.labelsets = {}  # name -> set of frozensets of label names
        self.values = {}     # name -> label -> set of values
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                raise ValueError("not a sample line: %r" % line)
            labels = dict(LABEL.findall(m.group(2) or ""))
            self.labelsets.setdefault(m.group(1), set()).add(frozenset(labels))
            vals = self.values.setdefault(m.group(1), {})
            for k, v in labels.items():
                vals.setdefault(k, set()).add(v)

    def labels(self, name):
        return set().union(*self.labelsets.get(name, [set()]))


def check_expr(where, expr, exp, problems):
    """Problems of one (Grafana-expanded) expression against the scrape; the metric names."""
    try:
        p = parse(expr)
    except PromQLError as e:
        problems.append("%s: %s" % (where, e))
        return set()
    if not p.metrics:
        problems.append("%s: no metric name in %r" % (where, expr))
    known = set()
    for name in p.metrics:
        if name in PROMETHEUS_SERIES:
            known |= TARGET_LABELS
        elif name not in exp.labelsets:
            problems.append("%s: %s is not a metric viaduct exports" % (where, name))
        else:
            known |= exp.labels(name)
    known |= TARGET_LABELS | set(p.produced)
    for metric, label, op, value in p.matchers:
        if metric is None or metric in PROMETHEUS_SERIES or metric not in exp.labelsets:
            continue
        if label in TARGET_LABELS:
            continue
        have = exp.values[metric].get(label)
        if have is None:
            problems.append("%s: %s has no label %s" % (where, metric, label))
        elif "$" in value or ".*" in value or label in CONFIG_LABELS:
            continue
        elif op in ("=", "!="):
            if value not in have:
                problems.append('%s: %s{%s="%s"}: no such value (exported: %s)'
                                % (where, metric, label, value, ", ".join(sorted(have))))
        elif re.fullmatch(r"[A-Za-z0-9_.:-]+(\|[A-Za-z0-9_.:-]+)*", value):
            for alt in value.split("|"):
                if alt not in have:
                    problems.append('%s: %s{%s%s"%s"}: %s is no value of it (exported: %s)'
                                    % (where, metric, label, op, value, alt,
                                       ", ".join(sorted(have))))
    for label in p.grouping + p.sources:
        if label not in known:
            problems.append("%s: label %s is on none of %s" % (where, label,
                                                               ", ".join(p.metrics)))
    return set(p.metrics)


# ---- the files -----------------------------------------------------------------------------

def all_panels(dash):
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels


def dashboard_queries(dash, problems):
    """[(where, expr, legend)] of the panel targets; [(where, selector, label)] of the
    template variables. Structure problems go to problems."""
    queries, variables = [], []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append("dashboard: schemaVersion %r (Grafana 9+ wants 36 or more)"
                        % dash.get("schemaVersion"))
    tvars = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = tvars.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("dashboard: no template variable 'datasource' of Prometheus sources")
    want_ds = {"type": "prometheus", "uid": "${datasource}"}
    ids = set()
    for panel in all_panels(dash):
        where = "panel %r" % panel.get("title")
        if panel.get("id") in ids:
            problems.append("%s: id %r used twice" % (where, panel.get("id")))
        ids.add(panel.get("id"))
        g = panel.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g["x"] + g["w"] > 24:
            problems.append("%s: bad gridPos %r" % (where, g))
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != want_ds:
            problems.append("%s: datasource %r, want %r" % (where, panel.get("datasource"),
                                                            want_ds))
        targets = panel.get("targets") or []
        if not targets:
            problems.append("%s: no targets" % where)
        refs = set()
        for t in targets:
            tw = "%s target %s" % (where, t.get("refId"))
            if t.get("refId") in refs or not t.get("refId"):
                problems.append("%s: refId missing or used twice" % tw)
            refs.add(t.get("refId"))
            if t.get("datasource") != want_ds:
                problems.append("%s: datasource %r" % (tw, t.get("datasource")))
            if not isinstance(t.get("expr"), str) or not t["expr"].strip():
                problems.append("%s: no expr" % tw)
                continue
            queries.append((tw, t["expr"], t.get("legendFormat", "")))
    for name, v in tvars.items():
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = LABEL_VALUES.match(q or "")
        if not m:
            problems.append("variable %s: not label_values(SELECTOR, LABEL): %r" % (name, q))
            continue
        if v.get("datasource") != want_ds:
            problems.append("variable %s: datasource %r" % (name, v.get("datasource")))
        variables.append(("variable " + name, m.group(1), m.group(2)))
    return queries, variables


def rule_exprs(rules, problems):
    out = []
    for group in rules.get("groups", []):
        for r in group.get("rules", []):
            name = r.get("alert") or r.get("record")
            if r.get("alert"):
                if "for" not in r:
                    problems.append("alert %s: no for:" % name)
                if r.get("labels", {}).get("severity") not in ("critical", "warning"):
                    problems.append("alert %s: severity %r" % (name,
                                                             r.get("labels", {}).get("severity")))
                ann = r.get("annotations", {})
                if not ann.get("summary") or not ann.get("description"):
                    problems.append("alert %s: summary and description wanted" % name)
            out.append(("alert " + name, r.get("expr", "")))
    return out


def cmd_check(scrape, dashboard, rules_file, alert_tests):
    import yaml  # python3-yaml (scripts/install-deps.sh)
    problems = []
    exp = Exported(open(scrape, encoding="utf-8").read())
    try:
        dash = json.load(open(dashboard, encoding="utf-8"))
    except ValueError as e:
        print("%s: not JSON: %s" % (dashboard, e), file=sys.stderr)
        return 1
    queries, variables = dashboard_queries(dash, problems)
    rules = yaml.safe_load(open(rules_file, encoding="utf-8"))
    exprs = rule_exprs(rules, problems)
    used = set()
    for where, expr, _ in queries:
        used |= check_expr(where, grafana_expand(expr), exp, problems)
    for where, sel, label in variables:
        names = check_expr(where, grafana_expand(sel), exp, problems)
        used |= names
        if not any(label in exp.labels(n) | TARGET_LABELS for n in names):
            problems.append("%s: label %s is on none of %s" % (where, label, ", ".join(names)))
    for where, expr in exprs:
        used |= check_expr(where, expr, exp, problems)
    # the unit tests' series: viaduct's names with exactly viaduct's label names
    tests = yaml.safe_load(open(alert_tests, encoding="utf-8"))
    n_series = 0
    for k, test in enumerate(tests.get("tests", [])):
        for s in test.get("input_series", []):
            n_series += 1
            where = "alert test %d series %s" % (k + 1, s["series"])
            p = parse(s["series"])
            name = p.metrics[0]
            labels = frozenset(lbl for _, lbl, _, _ in p.matchers) - TARGET_LABELS
            if name in PROMETHEUS_SERIES:
                continue
            if name not in exp.labelsets:
                problems.append("%s: %s is not a metric viaduct exports" % (where, name))
            elif labels not in exp.labelsets[name]:
                problems.append("%s: labels {%s}; viaduct's: %s" % (
                    where, ",".join(sorted(labels)),
                    " or ".join("{%s}" % ",".join(sorted(ls)) for ls in exp.labelsets[name])))
            check_expr(where, s["series"], exp, problems)
    for line in problems:
        print("check_queries: " + line, file=sys.stderr)
    viaduct = {n for n in exp.labelsets if n.startswith("viaduct_")}
    unused = sorted(n for n in viaduct - used if not n.startswith("viaduct_worker_"))
    print("check_queries: %d dashboard queries, %d template variables, %d alert rules, %d "
          "unit-test series; %d metric names used, %s; %d of viaduct's %d families not on "
          "the dashboard or in an alert (besides per-worker ones): %s" % (
              len(queries), len(variables), len(exprs), n_series, len(used),
              "every one exported" if not problems else "%d PROBLEM(S)" % len(problems),
              len(unused), len(viaduct), " ".join(unused) or "none"))
    return 1 if problems else 0


# ---- a live Prometheus ---------------------------------------------------------------------

def api(base, path, params=None):
    url = base.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400/422 carry the parser's error as JSON
        return json.load(e)


def cmd_live(base, dashboard, rules_file):
    import yaml
    problems = []
    dash = json.load(open(dashboard, encoding="utf-8"))
    queries, variables = dashboard_queries(dash, problems)
    rules = yaml.safe_load(open(rules_file, encoding="utf-8"))
    exprs = rule_exprs(rules, problems)
    empty_ok, nonempty, filtered = 0, 0, []
    for where, expr, legend in queries + [(w, e, "") for w, e in exprs]:
        expr = grafana_expand(expr, "1m")
        r = api(base, "/api/v1/query", {"query": expr})
        if r.get("status") != "success":
            problems.append("%s: Prometheus says %s: %s" % (where, r.get("errorType"),
                                                           r.get("error")))
            continue
        series = r["data"]["result"]
        if not series:
            if has_filter(expr):
                empty_ok += 1
                filtered.append(where.replace("panel ", "").replace(" target ", "/"))
            else:
                problems.append("%s: no series from %r" % (where, expr))
            continue
        nonempty += 1
        for label in re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", legend):
            missing = [s["metric"] for s in series if label not in s["metric"]]
            if missing:
                problems.append("%s: legend {{%s}}: not a label of %s" % (where, label,
                                                                          missing[0]))
    for where, sel, label in variables:
        r = api(base, "/api/v1/label/%s/values" % label, {"match[]": grafana_expand(sel)})
        if r.get("status") != "success" or not r["data"]:
            problems.append("%s: no values of %s for %s (%s)" % (where, label, sel,
                                                                r.get("error", "empty")))
    r = api(base, "/api/v1/rules")
    seen = 0
    for group in r.get("data", {}).get("groups", []):
        for rule in group.get("rules", []):
            seen += 1
            if rule.get("health") != "ok":
                problems.append("alert %s: rule health %r: %s" % (rule.get("name"),
                                                                  rule.get("health"),
                                                                  rule.get("lastError")))
    if seen != len(exprs):
        problems.append("Prometheus loaded %d rules, the file has %d" % (seen, len(exprs)))
    for line in problems:
        print("check_queries: " + line, file=sys.stderr)
    print("check_queries: live: filtered to none (a comparison, nothing over it in this "
          "run): %s" % ", ".join(filtered))
    print("check_queries: live: %d queries evaluated by Prometheus (%d with series, %d "
          "filtered to none), %d template variables with values, %d rules healthy: %s" % (
              len(queries) + len(exprs), nonempty, empty_ok, len(variables), seen,
              "ok" if not problems else "%d PROBLEM(S)" % len(problems)))
    return 1 if problems else 0


def cmd_wait(base, timeout, query):
    """Polls the query (every 0.2 s, at most timeout s) until it returns a series; errors
    while Prometheus starts (connection refused) count as no series yet."""
    for _ in range(max(1, int(float(timeout) / 0.2))):
        try:
            r = api(base, "/api/v1/query", {"query": query})
            if r.get("status") == "success" and r["data"]["result"]:
                print("check_queries: wait: %s: %s" % (query, r["data"]["result"][0]["value"][1]))
                return 0
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    print("check_queries: wait: nothing for %s within %s s" % (query, timeout), file=sys.stderr)
    return 1


def alert_spec(s):
    name, _, labels = s[1:].partition(":")
    return s[0], name, dict(kv.split("=", 1) for kv in labels.split(",") if kv)


def cmd_alerts(base, timeout, specs):
    specs = [alert_spec(s) for s in specs]
    polls = max(1, int(float(timeout) / 0.2))

    def matching(alerts, name, labels):
        return [a for a in alerts if a["labels"].get("alertname") == name and
                all(a["labels"].get(k) == v for k, v in labels.items())]

    alerts = []
    for _ in range(polls):
        alerts = api(base, "/api/v1/alerts").get("data", {}).get("alerts", [])
        if all(matching(alerts, n, ls) for sign, n, ls in specs if sign == "+"):
            break
        time.sleep(0.2)
    problems = []
    for sign, name, labels in specs:
        found = matching(alerts, name, labels)
        if sign == "+" and not found:
            problems.append("alert %s %s: not pending or firing within %s s" % (name, labels,
                                                                               timeout))
        if sign == "-" and found:
            problems.append("alert %s %s: %s, should not be" % (name, labels,
                                                               found[0]["state"]))
    for line in problems:
        print("check_queries: " + line, file=sys.stderr)
    print("check_queries: alerts: %s" % "; ".join(
        "%s%s{%s}" % (s, n, ",".join("%s=%s" % kv for kv in ls.items())) for s, n, ls in specs)
        + (": as expected" if not problems else ": %d PROBLEM(S)" % len(problems)))
    return 1 if problems else 0


# ---- self-test -----------------------------------------------------------------------------

SELF_TESTS = [
    # (expression, metrics, grouping, produced, sources, matchers as label=value)
    ('sum by (reason) (rate(viaduct_drops_total{reason!~"ack-absorbed|not-sip"}[5m]))\n'
     '  / on (job, instance) group_left\nsum(rate(viaduct_received_messages_total[5m])) > 0.05',
     ["viaduct_drops_total", "viaduct_received_messages_total"],
     ["reason", "job", "instance"], [], [], ["reason!~ack-absorbed|not-sip"]),
    ('label_replace(label_replace(rate(a_total{x="1"}[1m]), "pool_index", "$1", "pool", '
     '"(.*)"), "mi", "$1", "member", "(.*)") * on (mi) group_left (pool) group by (mi, pool) '
     '(b{c=~"$pool"})',
     ["a_total", "b"], ["mi", "pool", "mi", "pool"], ["mi", "pool_index"], ["member", "pool"],
     ["x=1", "c=~$pool"]),
    ('up{job="viaduct"} == 0 and on() vector(1)', ["up"], [], [], [], ["job=viaduct"]),
    ("sum without (worker) (foo) offset 5m", ["foo"], ["worker"], [], [], []),
    ("sum(foo) by (a, b)", ["foo"], ["a", "b"], [], [], []),
    ("rate(foo[5m:30s] @ end()) * 2 - 1e3 + .5 + 0x1F", ["foo"], [], [], [], []),
    ('foo{s="rate(bar[5m]) sum by (x)", t=\'{}\', u=`"`} # a comment with baz{} and qux(\n'
     " or on (a) bar", ["foo", "bar"], ["a"], [], [], ['s=rate(bar[5m]) sum by (x)', "t={}",
                                                       'u="']),
    ('{__name__="viaduct_z", a!="b"}', ["viaduct_z"], [], [], [], ["a!=b"]),
    ('count_values("version", viaduct_snapshot_version) > bool 1', ["viaduct_snapshot_version"],
     [], ["version"], [], []),
    ("max_over_time(foo[1h]) unless ignoring (x) sum by (y) (bar1_total)",
     ["foo", "bar1_total"], ["x", "y"], [], [], []),
    ("Inf < foo and NaN != bar", ["foo", "bar"], [], [], [], []),
]
SELF_ERRORS = [
    ("rat(viaduct_x[5m])", "unknown function 'rat'"),
    ("sum(rate(viaduct_x[5m])", "unclosed"),
    ("viaduct_x{a=1}", "bad label matcher"),
    ("viaduct_x)", "unbalanced"),
    ("viaduct_x[5m}", "unexpected"),
    ("viaduct_x ? 1", "cannot read"),
]


def cmd_self_test():
    bad = 0
    for expr, metrics, grouping, produced, sources, matchers in SELF_TESTS:
        p = parse(expr)
        got = (p.metrics, p.grouping, sorted(p.produced), sorted(p.sources),
               ["%s%s%s" % (lbl, op, v) for _, lbl, op, v in p.matchers])
        want = (metrics, grouping, sorted(produced), sorted(sources), matchers)
        if got != want:
            bad += 1
            print("check_queries: self-test: %r\n  got  %r\n  want %r" % (expr, got, want),
                  file=sys.stderr)
    for expr, msg in SELF_ERRORS:
        try:
            parse(expr)
            err = "no error"
        except PromQLError as e:
            err = str(e)
        if msg not in err:
            bad += 1
            print("check_queries: self-test: %r: %s, want %r" % (expr, err, msg),
                  file=sys.stderr)
    # Grafana's variables and has_filter
    for expr, want in [("rate(x{a=~\"$pool\"}[$__rate_interval])", 'rate(x{a=~".*"}[5m])'),
                       ('label_replace(x, "d", "$1", "s", "(.*)")',
                        'label_replace(x, "d", "$1", "s", "(.*)")'),
                       ('x{i=~"${instance}", p=~"$pooled"}', 'x{i=~".*", p=~"$pooled"}')]:
        if grafana_expand(expr) != want:
            bad += 1
            print("check_queries: self-test: grafana_expand(%r) = %r" % (expr,
                                                                        grafana_expand(expr)),
                  file=sys.stderr)
    for expr, want in [("x > 0", True), ('x{a=~"<>"}', False), ("x == bool 1", True),
                       ('x{a!="b"}', False), ("sum(x)", False), ("x <= 1", True)]:
        if has_filter(expr) != want:
            bad += 1
            print("check_queries: self-test: has_filter(%r) != %r" % (expr, want),
                  file=sys.stderr)
    n = len(SELF_TESTS) + len(SELF_ERRORS) + 9
    print("check_queries: self-test: %d of %d cases right" % (n - bad, n))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "self-test":
        return cmd_self_test()
    if len(argv) == 6 and argv[1] == "check":
        return cmd_check(*argv[2:])
    if len(argv) == 5 and argv[1] == "live":
        return cmd_live(*argv[2:])
    if len(argv) == 5 and argv[1] == "wait":
        return cmd_wait(*argv[2:])
    if len(argv) >= 4 and argv[1] == "alerts":
        return cmd_alerts(argv[2], argv[3], argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
