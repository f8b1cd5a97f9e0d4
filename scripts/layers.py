#!/usr/bin/env python3
"""Fails when a dependency points up a layer, and prints the offending edge.

Two graphs are checked:
- crates: each workspace crate's `[dependencies]` on other switchyard crates must point to a
  lower layer (CRATE_LAYERS);
- the gateway's modules: every `crate::MODULE` path in crates/switchyard-gateway/src must name
  a module of the same or a lower layer (MODULE_LAYERS), and the module graph has no cycle.
A module or crate missing from the tables is an error too, so new code gets a layer on purpose.
It also fails on a function of the gateway crate (tests aside) longer than MAX_FN_LINES, so
each phase of the request path can be read at once.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Lower number = lower layer. Crates of one layer may not depend on each other.
CRATE_LAYERS = {
    "switchyard-http": 0,
    "switchyard-wire": 1,
    "switchyard-embed": 1,
    "switchyard-config": 2,
    "switchyard-routing": 3,
    "switchyard-guard": 3,
    "switchyard-cache": 3,
    "switchyard-gateway": 4,
    "switchyard": 5,
    # Test and measurement tools sit beside the product, above what they exercise.
    "mock-llm": 2,
    "sseload": 5,
    "switchyard-bench": 5,
}

# The gateway's modules, bottom to top (docs/architecture.md explains each layer). A module may
# import from its own layer or below; within a layer the graph must still be acyclic.
MODULE_LAYERS = {
    # L0: plumbing and vocabulary with no knowledge of requests
    "io": 0, "log": 0, "observe": 0, "runtime": 0,
    # L1: the two sides of a connection
    "downstream": 1, "upstream": 1,
    # L2: relaying an upstream answer to the client
    "relay": 2,
    # L3: the chat pipeline
    "pipeline": 3,
    # L4: endpoints and the per-connection loop
    "endpoints": 4, "conn": 4,
    # L5: threads, listeners, control plane, the library's entry points
    "boot": 5, "control": 5, "lib": 5,
}

MAX_FN_LINES = 80

failures = []


def crate_edges():
    for toml in sorted(ROOT.glob("**/Cargo.toml")):
        if "target" in toml.parts or toml.parent.name == "fuzz":
            continue
        text = toml.read_text()
        m = re.search(r'(?m)^name = "([^"]+)"', text)
        if not m or "[package]" not in text:
            continue
        name = m.group(1)
        deps = re.search(r"(?ms)^\[dependencies\]\n(.*?)(^\[|\Z)", text)
        if not deps:
            continue
        for dep in re.findall(r"(?m)^([A-Za-z0-9_-]+)\s*[=.]", deps.group(1)):
            if dep in CRATE_LAYERS or dep.startswith("switchyard"):
                yield name, dep


def check_crates():
    for src, dst in crate_edges():
        for c in (src, dst):
            if c not in CRATE_LAYERS:
                failures.append(f"crate {c} has no layer in scripts/layers.py")
                return
        if CRATE_LAYERS[dst] >= CRATE_LAYERS[src]:
            failures.append(
                f"crate edge {src} (layer {CRATE_LAYERS[src]}) -> {dst} (layer {CRATE_LAYERS[dst]}) does not point down"
            )


def module_of(path: pathlib.Path, src: pathlib.Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    return rel.parts[0]


def check_modules():
    src = ROOT / "crates/switchyard-gateway/src"
    graph = {}
    for f in sorted(src.rglob("*.rs")):
        mod = module_of(f, src)
        if mod not in MODULE_LAYERS:
            failures.append(f"gateway module {mod} ({f.relative_to(ROOT)}) has no layer in scripts/layers.py")
            continue
        text = re.sub(r"//[^\n]*", "", f.read_text())
        for dst in sorted(set(re.findall(r"\bcrate::([a-z_0-9]+)", text))):
            if dst not in MODULE_LAYERS:
                continue  # a macro or an item of lib.rs
            if dst == mod:
                continue
            graph.setdefault(mod, set()).add(dst)
            if MODULE_LAYERS[dst] > MODULE_LAYERS[mod]:
                failures.append(
                    f"gateway edge {f.relative_to(ROOT)}: {mod} (L{MODULE_LAYERS[mod]}) -> "
                    f"{dst} (L{MODULE_LAYERS[dst]}) points up"
                )
    # cycles among top-level modules (same-layer edges are allowed, cycles are not)
    state = {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                failures.append("gateway module cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            elif m not in state:
                visit(m, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])


def check_function_lengths():
    src = ROOT / "crates/switchyard-gateway/src"
    for f in sorted(src.rglob("*.rs")):
        if "tests" in f.parts or f.name == "tests.rs":
            continue
        lines = f.read_text().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"^(\s*)(pub(\(crate\))? )?(async )?fn (\w+)", lines[i])
            if m and not lines[i].rstrip().endswith(";"):
                indent, j = m.group(1), i + 1
                while j < len(lines) and lines[j] != indent + "}":
                    j += 1
                if j - i + 1 > MAX_FN_LINES:
                    failures.append(f"{f.relative_to(ROOT)}:{i + 1}: fn {m.group(5)} is {j - i + 1} lines (max {MAX_FN_LINES})")
                i = j
            i += 1


check_crates()
check_modules()
check_function_lengths()
if failures:
    print("layering check failed:")
    for f in failures:
        print("  " + f)
    sys.exit(1)
print("layering check: every crate and gateway-module edge points down, no cycles, gateway functions <= 80 lines")
