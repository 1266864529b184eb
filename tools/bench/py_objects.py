"""Object-heavy Python for the benchmark suite (run with PYTHONMALLOC=malloc):
classes with __dict__, tuples, dict churn, sorting, string building.
Prints a checksum that the suite compares across allocators."""
import sys


class Node:
    def __init__(self, key, payload):
        self.key = key
        self.payload = payload
        self.children = []


def build(n, salt):
    nodes = [Node(i, ("x" * (i % 37), i * salt, (i, salt))) for i in range(n)]
    for i in range(1, n):
        nodes[(i * 7919) % i].children.append(nodes[i])
    return nodes


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    total = 0
    for r in range(max(1, int(12 * scale))):
        nodes = build(60000, r + 1)
        index = {f"k{n.key}-{r}": n for n in nodes}
        ordered = sorted(index, key=lambda k: (len(k), k))
        words = " ".join(ordered[::97]).split()
        total += sum(len(n.children) for n in nodes) + len(words) + len(index)
        del nodes, index, ordered, words
    print(f"py_objects: OK {total}")


main()
