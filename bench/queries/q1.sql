-- Q1: the first 20 rows by id, five columns.
SELECT id, model, trim_level, doors, price FROM bench_bn_schema.toyota ORDER BY id LIMIT 20;
