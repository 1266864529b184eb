"""The main job's workload: realistic CPython allocation under the preload.

Run with PYTHONMALLOC=malloc so every object goes through malloc. Builds and
drops dicts, lists, sets and strings, grows buffers, round-trips JSON, and
runs a few threads; prints a checksum of what it computed, which must be the
same with and without the preload (tests/preload/run-all compares them).
"""
import hashlib
import json
import threading


def records(n, salt):
    out = []
    for i in range(n):
        out.append({"id": i, "name": f"user-{salt}-{i}", "tags": [f"t{i % 7}", f"g{i % 13}"],
                    "score": (i * 2654435761) % 1000003 / 7.0})
    return out


def churn(rounds):
    digest = hashlib.sha256()
    kept = []
    for r in range(rounds):
        batch = records(20000, r)
        index = {rec["name"]: rec for rec in batch}
        groups = {}
        for rec in batch:
            groups.setdefault(rec["tags"][1], []).append(rec["id"])
        text = json.dumps(batch[: 2000 + r * 100])
        back = json.loads(text)
        digest.update(text.encode())
        digest.update(str(sum(len(v) for v in groups.values())).encode())
        kept.append(index[f"user-{r}-{r * 11}"])   # a few survivors; the rest is dropped
        assert back[0]["name"] == batch[0]["name"]
        del batch, index, groups, back
    return digest.hexdigest(), len(kept)


def growing_buffers():
    buf = bytearray()
    parts = []
    for i in range(200000):
        buf += i.to_bytes(4, "little")
        if i % 10000 == 0:
            parts.append(bytes(buf))   # snapshots of a buffer that keeps growing (realloc)
    s = "".join(str(i) for i in range(100000))
    words = set(s[i:i + 5] for i in range(0, len(s), 3))
    return hashlib.sha256(bytes(buf) + b"".join(parts[-2:])).hexdigest(), len(words)


def threaded(results, k):
    local = [list(range(k, k + 5000)) for _ in range(40)]
    results[k] = sum(map(sum, local))


def main():
    d1, kept = churn(12)
    d2, nwords = growing_buffers()
    results = {}
    threads = [threading.Thread(target=threaded, args=(results, k)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"workload: churn {d1[:16]} kept {kept}")
    print(f"workload: buffers {d2[:16]} words {nwords}")
    print(f"workload: threads {sum(results.values())}")


if __name__ == "__main__":
    main()
