-- The backfill benchmark's table: psql -v rows=2000000 -v table=orders -f Benchmarks/backfill/orders.sql
-- One orders-like table (uuid, bigint, numeric(12,2), two low-cardinality texts, timestamptz, int,
-- nullable text, bool, jsonb), generated set-wise by generate_series and deterministic in i.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.:table;
CREATE TABLE public.:table (
    order_id   uuid          NOT NULL,
    id         bigint        NOT NULL,
    amount     numeric(12,2) NOT NULL,
    currency   text          NOT NULL,
    status     text          NOT NULL,
    created_at timestamptz   NOT NULL,
    items      int           NOT NULL,
    note       text,
    paid       bool          NOT NULL,
    attrs      jsonb         NOT NULL
);
INSERT INTO public.:table
SELECT md5(i::text)::uuid,
       i,
       ((i * 7919) % 10000000) / 100.0,
       (ARRAY['EUR', 'USD', 'GBP', 'CHF'])[1 + i % 4],
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + (i * 31) % 5],
       timestamptz '2024-05-01 12:00:00+00' + make_interval(secs => (i / 10) + ((i * 104729) % 1000000) / 1e6),
       1 + (i * 13) % 19,
       CASE i % 6 WHEN 1 THEN 'gift' WHEN 2 THEN 'express delivery' WHEN 3 THEN 'leave at the door' END,
       i % 3 = 0,
       jsonb_build_object('sku', 'SKU-' || (i % 5000), 'qty', 1 + i % 7, 'gift', i % 6 = 1)
FROM generate_series(1::bigint, :rows) AS i;
ALTER TABLE public.:table ADD PRIMARY KEY (id);
-- Vacuumed and analyzed here, so autovacuum stays out of the timed runs (its workers' CPU would be
-- counted as the backends'), and the generation's dirty pages are written before them.
ALTER TABLE public.:table SET (autovacuum_enabled = false);
VACUUM ANALYZE public.:table;
CHECKPOINT;
