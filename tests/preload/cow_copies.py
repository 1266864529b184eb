"""Large bytearray copies (bytearray(x), x.copy(), x[:]) — each a malloc of
a fresh buffer and one memcpy — then writes to some copies and reads of all;
prints a digest of every buffer. Run with and without the preload (a rule
with alias = cow): the digests must be the same."""
import hashlib

MiB = 1 << 20
base = bytearray(range(256)) * (48 * MiB // 256)
copies = []
for i in range(12):
    c = (bytearray(base), base.copy(), base[:])[i % 3]
    if i % 4 == 1:
        c[i * 4096 + 7] = i                  # a few pages written after the copy
    if i % 4 == 2:
        c[:MiB] = bytes(MiB)                 # a whole MiB overwritten
    copies.append(c)
base[0] = 255                                # the source changes too
grown = bytearray(base)
grown += bytes(16 * MiB)                     # realloc growth
for c in [base, grown] + copies:
    print(len(c), hashlib.sha256(c).hexdigest()[:16])
