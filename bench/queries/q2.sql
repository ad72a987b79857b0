-- Q2: one row by id.
SELECT id, model, trim_level, doors, price FROM bench_bn_schema.toyota WHERE id = 4242;
