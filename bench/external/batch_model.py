"""The single-node batch problem (shared/spec/scheduling.md, section 3) as an OR-tools CP-SAT model.

Reads {"timeLimitSeconds", "workers", "instances": [...]} as JSON on stdin, in the form
bench/external/instance.ts writes, and prints one JSON line per instance, in input order:
{"name", "status", "batch", "requests", "tokens", "solveSeconds", "buildSeconds"}.
status is OPTIMAL (proven), FEASIBLE (the time limit hit with a batch in hand) or TIMEOUT (none).

Everything is an integer. Work is counted in FLOPs at the node's effective rate: compute is whole
FLOPs, and the TypeScript side turned link seconds and deadlines into the same unit, so "uplink +
compute + downlink <= the tightest deadline" is one inequality.

Static padding: with b members, S the longest prompt and N the longest output, memory is
b * (S + N) KV tokens and compute is b * g(S, N), g(s, n) = prompt(s) + output(n) +
cross * s * (n - 1). S and N are CP-SAT max constraints over the chosen members' lengths, the
per-sequence costs at S and N are table constraints over the lengths that occur, and the two
products are CP-SAT multiplication constraints: exact, and they propagate (a long member lowers
the batch size that still fits). A linear statement with ordering variables and big-M products
was exact too but proved nothing at 128 requests in 10 s.
Ragged padding: memory and compute are sums of per-request constants.
The tightest deadline: ordering booleans v[l], "some member's deadline is at most level l" over
the distinct deadlines ascending; every member forces its own level, and the deadline is the
largest level minus the steps below every forced level.
The objective is lexicographic (requests, then output tokens; or the reverse): two solves, the
second with the first key fixed at its optimum and the first solve's batch as a hint. One
weighted sum of both keys proved far less within the same time.
"""

import json
import sys
import time

from ortools.sat.python import cp_model


class InstanceError(ValueError):
    """An instance this model cannot state exactly."""


def integer(value, what):
    if not isinstance(value, int) or isinstance(value, bool):
        raise InstanceError(f"{what} must be an integer, got {value!r}")
    return value


def column(requests, key):
    """The integer field `key` of every request."""
    return [integer(r[key], key) for r in requests]


def dot(values, x):
    return sum(v * xu for v, xu in zip(values, x))


def tightest_deadline(model, x, deadlines):
    """A linear expression equal to the smallest deadline among chosen members (exact where it
    bounds the latency from above: forcing more ordering booleans only lowers it)."""
    levels = sorted(set(deadlines))
    at = {d: i for i, d in enumerate(levels)}
    v = [model.NewBoolVar(f"v{l}") for l in range(len(levels) - 1)]
    for l in range(len(v) - 1):
        model.AddImplication(v[l], v[l + 1])
    for xu, d in zip(x, deadlines):
        if at[d] < len(v):
            model.AddImplication(xu, v[at[d]])
    return levels[-1] - sum((levels[l + 1] - levels[l]) * v[l] for l in range(len(v)))


def cost_at_longest(model, x, lengths, costs, name):
    """(longest chosen length, per-sequence cost at it) as variables; 0 and 0 for no member."""
    longest = model.NewIntVar(0, max(lengths), f"{name}_longest")
    model.AddMaxEquality(longest, [n * xu for n, xu in zip(lengths, x)])
    cost = model.NewIntVar(0, max(costs), f"{name}_cost")
    model.AddAllowedAssignments([longest, cost], sorted({(0, 0), *zip(lengths, costs)}))
    return longest, cost


def build(instance):
    """The CP-SAT model, the candidate requests, their booleans and the two objective keys."""
    if instance["padding"] not in ("static", "ragged"):
        raise InstanceError(f"padding must be static or ragged, got {instance['padding']!r}")
    if instance["objective"] not in ("requests", "tokens"):
        raise InstanceError(f"objective must be requests or tokens, got {instance['objective']!r}")
    candidates = [r for r in instance["requests"] if r["eligible"]]
    capacity = integer(instance["kvTokenCapacity"], "kvTokenCapacity")
    limit = instance.get("maxBatchSize")
    count_max = len(candidates)
    if limit is not None:
        count_max = min(count_max, integer(limit, "maxBatchSize"))

    model = cp_model.CpModel()
    x = [model.NewBoolVar(f"x{i}") for i in range(len(candidates))]
    b = model.NewIntVar(0, count_max, "b")
    model.Add(b == sum(x))
    tokens = dot(column(candidates, "outputTokens"), x)
    keys = (b, tokens) if instance["objective"] == "requests" else (tokens, b)
    if not candidates:
        return model, candidates, x, keys

    link = dot(column(candidates, "linkWork"), x)
    deadline = tightest_deadline(model, x, column(candidates, "deadlineWork"))
    if instance["padding"] == "ragged":
        model.Add(dot(column(candidates, "kvTokens"), x) <= capacity)
        model.Add(link + dot(column(candidates, "raggedFlops"), x) <= deadline)
        return model, candidates, x, keys

    prompts = column(candidates, "promptTokens")
    outputs = column(candidates, "outputTokens")
    prompt_flops = column(candidates, "promptFlops")
    output_flops = column(candidates, "outputFlops")
    cross = integer(instance["crossFlops"], "crossFlops")
    s, prompt_cost = cost_at_longest(model, x, prompts, prompt_flops, "prompt")
    n, output_cost = cost_at_longest(model, x, outputs, output_flops, "output")
    # Decode steps N - 1, bounded from below (exact: they only add cost), 0 for no member.
    steps = model.NewIntVar(0, max(outputs) - 1, "steps")
    model.Add(steps >= n - 1)
    context_max = max(prompts) * (max(outputs) - 1)
    context = model.NewIntVar(0, context_max, "context")
    model.AddMultiplicationEquality(context, [s, steps])
    per_member_max = max(prompt_flops) + max(output_flops) + cross * context_max
    per_member = model.NewIntVar(0, per_member_max, "per_member")
    model.Add(per_member == prompt_cost + output_cost + cross * context)
    compute = model.NewIntVar(0, count_max * per_member_max, "compute")
    model.AddMultiplicationEquality(compute, [b, per_member])
    padded = model.NewIntVar(0, max(prompts) + max(outputs), "padded")
    model.Add(padded == s + n)
    kv = model.NewIntVar(0, count_max * (max(prompts) + max(outputs)), "kv")
    model.AddMultiplicationEquality(kv, [b, padded])
    model.Add(kv <= capacity)
    model.Add(link + compute <= deadline)
    # Implied, for propagation: a member pads every member to at least its own prompt + output.
    for xu, p, o in zip(x, prompts, outputs):
        model.Add(b <= capacity // (p + o)).OnlyEnforceIf(xu)
    return model, candidates, x, keys


def solve(instance, time_limit, workers):
    started = time.perf_counter()
    model, candidates, x, (primary, secondary) = build(instance)
    built = time.perf_counter() - started
    if not candidates:
        return result(instance, "OPTIMAL", [], 0.0, built)

    def run(limit):
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(limit, 0.001)
        solver.parameters.num_workers = workers
        code = solver.Solve(model)
        if code in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
            # The empty batch is always feasible: either verdict is a bug, here or in CP-SAT.
            raise InstanceError(
                f"{instance['name']}: CP-SAT says {solver.StatusName(code)}, but the empty batch"
                " is always feasible: a bug in this model or in CP-SAT (see requirements.txt)"
            )
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return code, solver.WallTime(), None, None
        return code, solver.WallTime(), [solver.Value(xu) for xu in x], solver.Value(primary)

    model.Maximize(primary)
    code, seconds, values, best = run(time_limit)
    status = "OPTIMAL" if code == cp_model.OPTIMAL else "FEASIBLE" if values else "TIMEOUT"
    if status == "OPTIMAL":
        model.Add(primary == best)
        model.Maximize(secondary)
        for xu, v in zip(x, values):
            model.AddHint(xu, v)
        code, second, improved, _ = run(time_limit - seconds)
        seconds += second
        if improved:
            values = improved
        if code != cp_model.OPTIMAL:
            status = "FEASIBLE"
    chosen = [c for c, v in zip(candidates, values or []) if v]
    return result(instance, status, chosen, seconds, built)


def result(instance, status, chosen, solve_seconds, build_seconds):
    return {
        "name": instance["name"],
        "status": status,
        "batch": [c["id"] for c in chosen],
        "requests": len(chosen),
        "tokens": sum(c["outputTokens"] for c in chosen),
        "solveSeconds": solve_seconds,
        "buildSeconds": build_seconds,
    }


def main():
    job = json.load(sys.stdin)
    for instance in job["instances"]:
        result = solve(instance, float(job["timeLimitSeconds"]), int(job["workers"]))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except InstanceError as error:
        sys.stderr.write(f"batch_model.py: {error}\n")
        sys.exit(2)
