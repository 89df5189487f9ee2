#!/usr/bin/env python3
"""Next run times, jsrt against croniter: python3 cron_differential.py PORT DB

Generates a few thousand cases deterministically (random.Random(SEED)):
expressions x zones x start times, most of them within two hours of a
daylight-saving change of the zone in 2026 (New York, Berlin, Sydney in the
southern hemisphere, Lord Howe with its 30-minute change, Chatham with its
45-minute offset), the rest ordinary times in 2026-2027, also in Kolkata (no
daylight saving) and UTC. For each, the next run after the start comes from
croniter (pinned in scripts/setup.sh) and from jsrt._cron_next in the test
cluster, and the two are compared.

Where they differ, the case must fall in one of the classes of DISAGREEMENTS,
each with its rule and which side is right, and the class's own check must
confirm jsrt's answer by another route. An unlisted disagreement fails, and
so does a listed class that no case shows. Prints one line per class and per
failing case, then "integration: N passed, M failed".
"""
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

SEED = 13
PORT, DB = sys.argv[1], sys.argv[2]

EXPRS = [
    "* * * * *", "*/15 * * * *", "*/7 * * * *", "5/20 * * * *", "0 * * * *", "30 * * * *",
    "45 * * * *", "0 */2 * * *", "15 1-3 * * *", "30 2 * * *", "0 2 * * *", "59 1 * * *",
    "0 3 * * *", "45 2 * * *", "0 0 * * *", "0 9 * * mon-fri", "30 4 1,15 * 5", "0 0 1 * *",
    "0 12 * jan,apr,jul,oct *", "0 0 29 2 *", "0 0 */2 * 5", "0 6 * * */2", "10,40 0-4 * * *",
    "0 0 31 * *", "0 22 * * 0", "0 0 * * 7", "0 1-5/2 * * sat,sun", "*/30 1,2,3 * * *",
    "0 0 13 * 5", "0 8-18/3 * mar-nov 1-5", "20 2,3 */3 * *", "0 2 1-7 * 0",
    "@hourly", "@daily", "@weekly", "@monthly", "@yearly",
    # seconds first (jsrt.cron_seconds; croniter's second_at_beginning)
    "*/20 * * * * *", "30 45 1,2 * * *",
]
DST_ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
             "Pacific/Chatham"]
PLAIN_ZONES = ["Asia/Kolkata", "UTC"]
UTC = timezone.utc


def transitions(zone, year=2026):
    """The instants (UTC, to the minute) the zone's offset changes in `year`."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while t < end:
        if t.astimezone(tz).utcoffset() != (t + timedelta(hours=1)).astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += timedelta(minutes=1)
            out.append(m)
        t += timedelta(hours=1)
    return out


def cases():
    rnd = random.Random(SEED)
    out = []

    def ordinary():
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rnd.randrange(2 * 365 * 86400))

    for zone in DST_ZONES:
        near = []
        for tr in transitions(zone):
            # every 5 minutes from two hours before to two hours after, and some odd seconds
            near += [tr + timedelta(minutes=m) for m in range(-120, 125, 5)]
            near += [tr + timedelta(seconds=rnd.randrange(-7200, 7200)) for _ in range(20)]
        for expr in EXPRS:
            starts = rnd.sample(near, 16) + [ordinary() for _ in range(3)]
            out += [(expr, zone, s) for s in starts]
    for zone in PLAIN_ZONES:
        for expr in EXPRS:
            out += [(expr, zone, ordinary()) for _ in range(8)]
    # the issue's case
    out.append(("*/15 * * * *", "America/New_York", datetime(2026, 11, 1, 6, 10, tzinfo=UTC)))
    return out


def jsrt_next(all_cases):
    """jsrt._cron_next for every case, in one psql session."""
    lines = ["CREATE TEMP TABLE c(id int, expr text, zone text, start timestamptz);",
             "COPY c FROM STDIN (FORMAT csv);"]
    lines += [f'{i},"{e}",{z},{s.isoformat()}' for i, (e, z, s) in enumerate(all_cases)]
    lines += ["\\.", "SET TimeZone = 'UTC';",
              "SELECT id, to_char(jsrt._cron_next(expr, zone, start), 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM c ORDER BY id;"]
    res = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "/tmp", "-p", PORT,
                          "-U", "postgres", DB, "-f", "-"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        print(f"FAIL psql: {res.stderr.strip()}")
        print("integration: 0 passed, 1 failed")
        sys.exit(1)
    out = {}
    for row in res.stdout.split():
        i, t = row.split("|")
        out[int(i)] = datetime.fromisoformat(t).replace(tzinfo=UTC)
    return out


def croniter_iter(expr, zone, start, **kw):
    seconds = len(expr.split()) == 6
    return croniter(expr, start.astimezone(ZoneInfo(zone)), second_at_beginning=seconds, **kw)


def croniter_next(expr, zone, start, **kw):
    return croniter_iter(expr, zone, start, **kw).get_next(datetime).astimezone(UTC)


def second_occurrence(t, zone):
    """Whether instant t is the second time its wall-clock reading occurs (fall back)."""
    local = t.astimezone(ZoneInfo(zone))
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def day_fields(expr):
    f = expr.split()
    return (f[2], f[4]) if len(f) == 5 else (f[3], f[5]) if len(f) == 6 else ("*", "*")


# class -> (rule, who is right, the check that confirms jsrt's answer)
def repeated_check(expr, zone, start, j, c):
    """croniter ran a repeated wall-clock time again; with every such second occurrence
    dropped from croniter's sequence, its next run is jsrt's."""
    if not second_occurrence(c, zone):
        return False
    it = croniter_iter(expr, zone, start)
    for _ in range(500):
        t = it.get_next(datetime).astimezone(UTC)
        if not second_occurrence(t, zone):
            return t == j
    return False


def star_day_check(expr, zone, start, j, c):
    """A day field written `*/N` beside a restricted other one: Vixie cron, cronie and
    pg_cron require both (the field starts with `*`), croniter takes either; croniter
    told to require both (day_or=False) gives jsrt's answer."""
    dom, dow = day_fields(expr)
    starred = (dom.startswith("*") and dom != "*" and not dow.startswith("*")) or \
              (dow.startswith("*") and dow != "*" and not dom.startswith("*"))
    return starred and croniter_next(expr, zone, start, day_or=False) == j


def naive_next(expr, wall):
    """croniter's next match after naive wall-clock time `wall`, no zone involved."""
    seconds = len(expr.split()) == 6
    return croniter(expr, wall, second_at_beginning=seconds).get_next(datetime)


def offset(zone, t):
    return t.astimezone(ZoneInfo(zone)).utcoffset()


def jump_with_skipped_match(expr, zone, start, j):
    """j is the instant a spring-forward jumps at, after start, and a wall-clock time
    the jump skips matches the expression (croniter, on naive times, says so)."""
    before, after = offset(zone, j - timedelta(seconds=1)), offset(zone, j)
    if not (after > before and j > start):
        return False
    gap_start = (j + before).replace(tzinfo=None)
    gap_end = (j + after).replace(tzinfo=None)
    return naive_next(expr, gap_start - timedelta(seconds=1)) < gap_end


def skipped_check(expr, zone, start, j, c):
    """jsrt runs a skipped time at the jump; croniter drops it, and from the jump on
    croniter's next run is the one it gave."""
    return jump_with_skipped_match(expr, zone, start, j) and croniter_next(expr, zone, j) == c


def non_matching_check(expr, zone, start, j, c):
    """croniter's answer, read on the zone's clock, does not match the expression (a
    croniter bug after a skipped time); jsrt ran the skipped time at the jump."""
    wall = c.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    matches = naive_next(expr, wall - timedelta(seconds=1)) == wall
    return not matches and jump_with_skipped_match(expr, zone, start, j)


DISAGREEMENTS = {
    "repeated-time-runs-once": (
        "a fall-back repeats wall-clock times; croniter runs a matching one again in the "
        "second pass, jsrt runs each wall-clock time once, at its first occurrence (README, "
        "src/cron.rs), so croniter's repeat is not a run jsrt owes",
        "jsrt, by its documented rule (cronie does the same for jobs at fixed times)",
        repeated_check),
    "star-step-day-field": (
        "`*/N` in one day field beside a restricted other: croniter ORs the two, Vixie cron "
        "ANDs them because the field starts with `*`",
        "jsrt, following Vixie cron, cronie and pg_cron",
        star_day_check),
    "skipped-time-runs-at-jump": (
        "a spring-forward skips wall-clock times; croniter drops a matching one, jsrt runs it "
        "at the instant the clock jumps (README, src/cron.rs), so that no run is lost",
        "jsrt, by its documented rule (Vixie cron and cronie do the same for jobs at fixed times)",
        skipped_check),
    "croniter-non-matching-time": (
        "after a spring-forward croniter can answer a time the expression does not match "
        "(for `30 45 1,2 * * *` in New York, 03:00:30 EDT); jsrt runs the skipped time at the jump",
        "jsrt: croniter's answer is not a time of the schedule at all",
        non_matching_check),
}


def main():
    all_cases = cases()
    js = jsrt_next(all_cases)
    seen = {k: 0 for k in DISAGREEMENTS}
    passed = failed = agreed = 0
    for i, (expr, zone, start) in enumerate(all_cases):
        j = js.get(i)
        try:
            c = croniter_next(expr, zone, start)
        except Exception as e:  # croniter refusing is a disagreement too
            c = f"error {e!r}"
        if j == c:
            agreed += 1
            passed += 1
            continue
        cls = next((k for k, (_, _, chk) in DISAGREEMENTS.items()
                    if j is not None and isinstance(c, datetime) and chk(expr, zone, start, j, c)), None)
        if cls:
            seen[cls] += 1
            passed += 1
        else:
            failed += 1
            print(f"FAIL unlisted disagreement: {expr!r} in {zone} after {start.isoformat()}: "
                  f"jsrt {j and j.isoformat()}, croniter {c if isinstance(c, str) else c.isoformat()}")
    for k, (rule, right, _) in DISAGREEMENTS.items():
        if seen[k]:
            print(f"ok   {k}: {seen[k]} cases: {rule}; right: {right}")
            passed += 1
        else:
            print(f"FAIL {k}: listed as a disagreement but no case shows it")
            failed += 1
    print(f"{len(all_cases)} cases, {agreed} agree, {sum(seen.values())} in listed disagreements")
    # the issue's case, by name
    issue = js[len(all_cases) - 1] == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    print(f"{'ok  ' if issue else 'FAIL'} */15 in New York after 2026-11-01 06:10Z is 07:00Z")
    passed, failed = passed + issue, failed + (not issue)
    print(f"integration: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
