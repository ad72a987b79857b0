-- Q4: insert one row and return its id (tenantgraph records the creator).
INSERT INTO bench_bn_schema.toyota (user_id, model, trim_level, doors, price) VALUES (1, 'Bench', 'LE', 4, 25000.5) RETURNING id;
