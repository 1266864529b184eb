-- sqlite3 builds an index over a million rows (the suite's "real program" row).
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, score REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
  INSERT INTO t SELECT i, 'name-' || (i * 7919 % 1000003), i % 1000, (i * 31 % 9973) / 7.0 FROM n;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp_score ON t(grp, score);
SELECT 'sqlite_index: OK', count(*), count(DISTINCT name) FROM t;
