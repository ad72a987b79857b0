-- Q3: a filtered page ordered by a column without an index (ties by id),
-- and how many rows match: two statements, as both servers run.
SELECT id, model, trim_level, doors, price FROM bench_bn_schema.toyota WHERE doors = 4 ORDER BY price DESC, id LIMIT 20;
SELECT count(*) FROM bench_bn_schema.toyota WHERE doors = 4;
