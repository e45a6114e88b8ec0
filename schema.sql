-- OrbitEOS storage schema: the tables of record and the energy tables.
--
--   psql "$DB_URL" -f schema.sql          (the recorder runs it itself on every connect)
--
-- Safe to run any number of times. Works on plain PostgreSQL (>= 14) and, when the
-- `timescaledb` extension is available, turns the tables into hypertables with
-- compression, retention and continuous aggregates. Optional settings, e.g.
--   PGOPTIONS="-c orbiteos.raw_retention=30days" psql "$DB_URL" -f schema.sql
--   orbiteos.raw_retention        raw rows kept (TimescaleDB policy)      default 90 days
--   orbiteos.aggregate_retention  5 min / 1 h / 1 d rollups kept          default 1 year
--   orbiteos.compress_after       raw chunks compressed after             default 7 days
--   orbiteos.timescaledb          auto | on | off                         default auto
-- On plain PostgreSQL the rollups are ordinary views over the raw tables and the recorder
-- deletes raw rows older than its `purge_keep_days` itself.

-- TimescaleDB: `orbiteos.timescaledb` = auto (default: use it when the server can), on (require
-- it: an error when it cannot), off (never create it). The extension needs the server to preload
-- its library; CREATE EXTENSION without that ends the connection (FATAL), so that is checked first.
DO $$
DECLARE
    wanted    text := lower(COALESCE(NULLIF(current_setting('orbiteos.timescaledb', true), ''), 'auto'));
    available boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb');
    created   boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
    preloaded boolean := EXISTS (
        SELECT 1 FROM unnest(string_to_array(current_setting('shared_preload_libraries'), ',')) AS lib(name)
        WHERE regexp_replace(btrim(lib.name, ' "'), '^.*/|\.so$', '', 'g') = 'timescaledb');
    how       text := 'add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = '
                      '''timescaledb''; see docs/recorder.md) and restart PostgreSQL';
BEGIN
    IF wanted NOT IN ('auto', 'on', 'off') THEN
        RAISE EXCEPTION 'orbiteos schema: orbiteos.timescaledb must be auto, on or off, found %', wanted;
    END IF;
    IF created AND NOT preloaded THEN
        -- Rows would land in the hypertables' empty parents, and any TimescaleDB call ends the connection.
        RAISE EXCEPTION 'orbiteos schema: this database uses TimescaleDB but the server does not preload it; %', how;
    ELSIF created OR wanted = 'off' THEN
        RETURN;
    ELSIF NOT available THEN
        IF wanted = 'on' THEN
            RAISE EXCEPTION 'orbiteos schema: timescaledb is required (orbiteos.timescaledb = on) but this server '
                            'does not have the extension installed; install Timescale''s package (docs/recorder.md)';
        END IF;
    ELSIF NOT preloaded THEN
        IF wanted = 'on' THEN
            RAISE EXCEPTION 'orbiteos schema: timescaledb is installed but not preloaded; %', how;
        END IF;
        RAISE WARNING 'orbiteos schema: TimescaleDB is installed but not preloaded, so the tables stay plain '
                      'PostgreSQL; to use it, %', how;
    ELSE
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXCEPTION WHEN OTHERS THEN
            IF wanted = 'on' THEN
                RAISE;
            END IF;
            -- e.g. no privilege to create extensions: go on as plain PostgreSQL.
            RAISE WARNING 'orbiteos schema: timescaledb could not be enabled (%); the tables stay plain PostgreSQL',
                SQLERRM;
        END;
    END IF;
END
$$;

-- ---------------------------------------------------------------- tables of record

-- One row per state change. `value` is the state as a number when it is one.
CREATE TABLE IF NOT EXISTS states (
    time              timestamptz      NOT NULL,   -- last_updated
    seq               bigint           NOT NULL,   -- the recorder's order, ties within one time
    entity_id         text             NOT NULL,
    state             text,                        -- NULL when the entity was removed
    value             double precision,
    attributes        jsonb,
    last_changed      timestamptz,                 -- NULL when it is `time` (the state changed in this row)
    context_id        text,
    context_user_id   text,
    context_parent_id text
);
CREATE INDEX IF NOT EXISTS states_entity_time ON states (entity_id, time DESC);
CREATE INDEX IF NOT EXISTS states_time_brin ON states USING brin (time);

-- Every event other than state_changed and automation_run_finished (whose rows are automation_runs).
CREATE TABLE IF NOT EXISTS events (
    time              timestamptz NOT NULL,
    seq               bigint      NOT NULL,
    event_type        text        NOT NULL,
    data              jsonb,
    context_id        text,
    context_user_id   text,
    context_parent_id text
);
CREATE INDEX IF NOT EXISTS events_type_time ON events (event_type, time DESC);
CREATE INDEX IF NOT EXISTS events_time_brin ON events USING brin (time);

-- One row per finished automation run, with its trace in compact form (docs/recorder.md, "Storage").
CREATE TABLE IF NOT EXISTS automation_runs (
    time          timestamptz NOT NULL,   -- started
    seq           bigint      NOT NULL,
    finished      timestamptz,
    automation_id text        NOT NULL,
    entity_id     text,
    run_id        text,
    result        text,
    error         text,
    trace         jsonb,
    context_id    text
);
CREATE INDEX IF NOT EXISTS automation_runs_automation_time ON automation_runs (automation_id, time DESC);
CREATE INDEX IF NOT EXISTS automation_runs_time_brin ON automation_runs USING brin (time);

-- Every service call: who (the token name or automation), what, and why (context).
CREATE TABLE IF NOT EXISTS audit_log (
    time              timestamptz NOT NULL,
    seq               bigint      NOT NULL,
    user_id           text,
    domain            text        NOT NULL,
    service           text        NOT NULL,
    service_data      jsonb,
    handled           boolean,
    context_id        text,
    context_parent_id text
);
CREATE INDEX IF NOT EXISTS audit_log_service_time ON audit_log (domain, service, time DESC);
CREATE INDEX IF NOT EXISTS audit_log_user_time ON audit_log (user_id, time DESC);
CREATE INDEX IF NOT EXISTS audit_log_time_brin ON audit_log USING brin (time);

-- ---------------------------------------------------------------- energy tables

-- The device natures (meter, pv, battery, ev_charger), one row per state change, key attributes as columns.
CREATE TABLE IF NOT EXISTS device_telemetry (
    time          timestamptz NOT NULL,
    device_id     text        NOT NULL,   -- the entity id, e.g. battery.main
    nature        text        NOT NULL,   -- meter | pv | battery | ev_charger
    available     boolean     NOT NULL,
    power_kw      double precision,       -- the state; signs as in the device natures
    energy_kwh    double precision,       -- pv energy_kwh, ev_charger session_kwh
    import_kwh    double precision,
    export_kwh    double precision,
    soc           double precision,
    soh           double precision,
    setpoint_kw   double precision,
    limit_kw      double precision,
    frequency_hz  double precision,
    voltage_l1    double precision,
    voltage_l2    double precision,
    voltage_l3    double precision,
    current_l1    double precision,
    current_l2    double precision,
    current_l3    double precision,
    temperature_c double precision,
    status        text
);
CREATE INDEX IF NOT EXISTS device_telemetry_device_time ON device_telemetry (device_id, time DESC);
CREATE INDEX IF NOT EXISTS device_telemetry_time_brin ON device_telemetry USING brin (time);

-- Power by direction, always >= 0: grid_import, grid_export, pv, battery_charge, battery_discharge, ev.
CREATE TABLE IF NOT EXISTS energy_flows (
    time      timestamptz      NOT NULL,
    entity_id text             NOT NULL,
    flow      text             NOT NULL,
    power_kw  double precision NOT NULL
);
-- One btree: a series is (entity_id, flow); the rollups look up a series' last value before a
-- bucket through it. Queries by flow over a time range use the BRIN index (and, on TimescaleDB,
-- the chunks' time ranges). Schemas before had an index per column pair: dropped.
CREATE INDEX IF NOT EXISTS energy_flows_series_time ON energy_flows (entity_id, flow, time DESC);
DROP INDEX IF EXISTS energy_flows_flow_time;
DROP INDEX IF EXISTS energy_flows_entity_time;
CREATE INDEX IF NOT EXISTS energy_flows_time_brin ON energy_flows USING brin (time);

-- Forecasts (PV, load, price...) for a future time, as made at `created`.
CREATE TABLE IF NOT EXISTS forecasts (
    time      timestamptz      NOT NULL,   -- the moment the forecast is for
    created   timestamptz      NOT NULL,
    source    text             NOT NULL,
    entity_id text             NOT NULL,
    value     double precision,
    lower     double precision,
    upper     double precision,
    unit      text
);
CREATE INDEX IF NOT EXISTS forecasts_entity_time ON forecasts (entity_id, time DESC);
CREATE INDEX IF NOT EXISTS forecasts_time_brin ON forecasts USING brin (time);

-- Prices from price sensors (unit ending in /kWh, or listed in recorder.price_entities).
CREATE TABLE IF NOT EXISTS energy_prices (
    time      timestamptz      NOT NULL,
    entity_id text             NOT NULL,
    price     double precision NOT NULL,
    unit      text
);
CREATE INDEX IF NOT EXISTS energy_prices_entity_time ON energy_prices (entity_id, time DESC);
CREATE INDEX IF NOT EXISTS energy_prices_time_brin ON energy_prices USING brin (time);

-- Planned setpoints from an optimiser run.
CREATE TABLE IF NOT EXISTS optimization_results (
    time        timestamptz NOT NULL,   -- the moment the setpoint is for
    created     timestamptz NOT NULL,
    run_id      text        NOT NULL,
    entity_id   text        NOT NULL,
    setpoint_kw double precision,
    objective   text,
    cost        double precision,
    data        jsonb
);
CREATE INDEX IF NOT EXISTS optimization_results_entity_time ON optimization_results (entity_id, time DESC);
CREATE INDEX IF NOT EXISTS optimization_results_run ON optimization_results (run_id);
CREATE INDEX IF NOT EXISTS optimization_results_time_brin ON optimization_results USING brin (time);

-- `grid_event` events: frequency excursions, congestion signals, outages...
CREATE TABLE IF NOT EXISTS grid_events (
    time       timestamptz NOT NULL,
    kind       text        NOT NULL,
    entity_id  text,
    value      double precision,
    data       jsonb,
    context_id text
);
CREATE INDEX IF NOT EXISTS grid_events_kind_time ON grid_events (kind, time DESC);
CREATE INDEX IF NOT EXISTS grid_events_time_brin ON grid_events USING brin (time);

-- The recorder's receipts: one row per written batch, in the batch's own transaction, so that a
-- batch replayed after a lost connection is recognised and not written twice.
CREATE TABLE IF NOT EXISTS recorder_batches (
    batch_id   uuid        PRIMARY KEY,
    written_at timestamptz NOT NULL DEFAULT now(),
    first_seq  bigint,
    last_seq   bigint,
    rows       integer
);

-- An unavailable device writes NULL power: the end of what its last value says (schemas before had NOT NULL).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'energy_flows'::regclass AND attname = 'power_kw'
               AND attnotnull) THEN
        ALTER TABLE energy_flows ALTER COLUMN power_kw DROP NOT NULL;
    END IF;
END
$$;

-- ---------------------------------------------------------------- TimescaleDB: hypertables and policies

DO $$
DECLARE
    timescale   boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
    raw_keep    interval := COALESCE(NULLIF(current_setting('orbiteos.raw_retention', true), ''), '90 days')::interval;
    compress_at interval := COALESCE(NULLIF(current_setting('orbiteos.compress_after', true), ''), '7 days')::interval;
    t           record;
BEGIN
    IF timescale THEN
        FOR t IN SELECT * FROM (VALUES
                ('states', 'entity_id'), ('events', 'event_type'), ('automation_runs', 'automation_id'),
                ('audit_log', 'domain'), ('device_telemetry', 'device_id'), ('energy_flows', 'entity_id, flow'),
                ('forecasts', 'entity_id'), ('energy_prices', 'entity_id'),
                ('optimization_results', 'entity_id'), ('grid_events', 'kind')) AS v(name, segment_by)
        LOOP
            BEGIN
                PERFORM create_hypertable(t.name::regclass, 'time', if_not_exists => TRUE, migrate_data => TRUE);
                IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                               WHERE hypertable_name = t.name AND compression_enabled) THEN
                    EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, '
                                   'timescaledb.compress_orderby = %L)', t.name, t.segment_by, 'time DESC');
                END IF;
                PERFORM add_compression_policy(t.name::regclass, compress_at, if_not_exists => TRUE);
                PERFORM remove_retention_policy(t.name::regclass, if_exists => TRUE);
                PERFORM add_retention_policy(t.name::regclass, raw_keep);
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'orbiteos schema: TimescaleDB set-up of table % failed: %', t.name, SQLERRM;
            END;
        END LOOP;
    END IF;

END
$$;

-- ---------------------------------------------------------------- time-weighted integration
-- A recorded value holds from its sample until the next sample of the same series (last
-- observation carried forward: states are recorded when they change); NULL (unavailable) holds
-- nothing. orbiteos_locf(time, value ORDER BY time) folds one bucket's samples into
--   {integral of value dt in value-hours between its first and last sample, first epoch, first value,
--    last epoch, last value, seconds covered between first and last sample}
-- and orbiteos_locf_span() adds the edges: from the bucket's start to its first sample the value
-- before the bucket (`before`) holds, from its last sample to the bucket's end (or now) the last.

CREATE OR REPLACE FUNCTION orbiteos_locf_step(acc double precision[], t timestamptz, v double precision)
RETURNS double precision[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
    SELECT CASE WHEN acc IS NULL THEN ARRAY[0, e, v, e, v, 0]
                ELSE ARRAY[acc[1] + COALESCE(acc[5] * (e - acc[4]) / 3600.0, 0), acc[2], acc[3], e, v,
                           acc[6] + CASE WHEN acc[5] IS NULL THEN 0 ELSE e - acc[4] END] END
    FROM (SELECT extract(epoch FROM t)::double precision AS e) AS x
$f$;

CREATE OR REPLACE AGGREGATE orbiteos_locf(timestamptz, double precision) (
    SFUNC = orbiteos_locf_step, STYPE = double precision[], PARALLEL = SAFE
);

-- {value-hours, seconds with a value} over [bucket, bucket + width), cut at now().
CREATE OR REPLACE FUNCTION orbiteos_locf_span(acc double precision[], before double precision, bucket timestamptz,
                                              width interval)
RETURNS double precision[] LANGUAGE sql STABLE PARALLEL SAFE AS $f$
    SELECT ARRAY[
        acc[1] + COALESCE(before * (acc[2] - b) / 3600.0, 0) + COALESCE(acc[5] * GREATEST(e - acc[4], 0) / 3600.0, 0),
        acc[6] + CASE WHEN before IS NULL THEN 0 ELSE acc[2] - b END
               + CASE WHEN acc[5] IS NULL THEN 0 ELSE GREATEST(e - acc[4], 0) END]
    FROM (SELECT extract(epoch FROM bucket)::double precision AS b,
                 extract(epoch FROM LEAST(bucket + width, now()))::double precision AS e) AS x
$f$;

-- ---------------------------------------------------------------- rollups: 5 min, 1 h, 1 day
-- <name>_samples: per bucket and series, the folded samples (TimescaleDB: a continuous aggregate
-- with real-time aggregation, refreshed by a policy; plain PostgreSQL: a view with the same
-- columns). <name>: the view to query, the same on both, which adds each bucket's edges.
-- Each TimescaleDB step is guarded: if one fails it is reported as a WARNING and the samples
-- become a plain view.

DO $$
DECLARE
    timescale   boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
    agg_keep    interval := COALESCE(NULLIF(current_setting('orbiteos.aggregate_retention', true), ''), '1 year')::interval;
    t           record;
    r           record;
    samples     text;
    plain_bin   text;
    cagg_bin    text;
    final_view  text;
    is_cagg     boolean;
BEGIN
    FOR r IN SELECT * FROM (VALUES
            ('5m', INTERVAL '5 minutes', INTERVAL '1 day', INTERVAL '5 minutes', INTERVAL '5 minutes'),
            ('1h', INTERVAL '1 hour', INTERVAL '3 days', INTERVAL '1 hour', INTERVAL '30 minutes'),
            ('1d', INTERVAL '1 day', INTERVAL '5 days', INTERVAL '1 day', INTERVAL '1 hour'))
            AS v(suffix, width, start_offset, end_offset, schedule)
    LOOP
        plain_bin := format('date_bin(%L::interval, time, TIMESTAMPTZ %L)', r.width, '2000-01-01 00:00:00+00');
        cagg_bin := format('time_bucket(%L::interval, time)', r.width);
        FOR t IN SELECT * FROM (VALUES
                ('device_telemetry_' || r.suffix,
                    'SELECT %s AS bucket, device_id, nature, '
                    'orbiteos_locf(time, power_kw ORDER BY time) AS power_locf, '
                    'orbiteos_locf(time, soc ORDER BY time) AS soc_locf, '
                    'min(power_kw) AS power_kw_min, max(power_kw) AS power_kw_max, '
                    'min(soc) AS soc_min, max(soc) AS soc_max, '
                    'max(import_kwh) AS import_kwh_max, max(export_kwh) AS export_kwh_max, '
                    'max(energy_kwh) AS energy_kwh_max, '
                    'min(frequency_hz) AS frequency_hz_min, max(frequency_hz) AS frequency_hz_max, '
                    'count(*) AS samples '
                    'FROM device_telemetry GROUP BY 1, device_id, nature',
                    'SELECT s.bucket, s.device_id, s.nature, p.w[1] AS energy_kwh, '
                    'p.w[1] * 3600 / NULLIF(p.w[2], 0) AS power_kw_avg, s.power_kw_min, s.power_kw_max, '
                    'c.w[1] * 3600 / NULLIF(c.w[2], 0) AS soc_avg, s.soc_min, s.soc_max, '
                    's.import_kwh_max, s.export_kwh_max, s.energy_kwh_max, s.frequency_hz_min, s.frequency_hz_max, '
                    's.samples '
                    'FROM %I s '
                    'CROSS JOIN LATERAL (SELECT orbiteos_locf_span(s.power_locf, (SELECT d.power_kw FROM device_telemetry d '
                    'WHERE d.device_id = s.device_id AND d.time < s.bucket ORDER BY d.time DESC LIMIT 1), '
                    's.bucket, %L::interval) AS w) AS p '
                    'CROSS JOIN LATERAL (SELECT orbiteos_locf_span(s.soc_locf, (SELECT d.soc FROM device_telemetry d '
                    'WHERE d.device_id = s.device_id AND d.time < s.bucket ORDER BY d.time DESC LIMIT 1), '
                    's.bucket, %L::interval) AS w) AS c'),
                ('energy_flows_' || r.suffix,
                    'SELECT %s AS bucket, entity_id, flow, orbiteos_locf(time, power_kw ORDER BY time) AS power_locf, '
                    'max(power_kw) AS power_kw_max, count(power_kw) AS samples '
                    'FROM energy_flows GROUP BY 1, entity_id, flow',
                    'SELECT s.bucket, s.entity_id, s.flow, p.w[1] AS energy_kwh, '
                    'p.w[1] * 3600 / NULLIF(p.w[2], 0) AS power_kw_avg, s.power_kw_max, s.samples '
                    'FROM %I s '
                    'CROSS JOIN LATERAL (SELECT orbiteos_locf_span(s.power_locf, (SELECT f.power_kw FROM energy_flows f '
                    'WHERE f.entity_id = s.entity_id AND f.flow = s.flow AND f.time < s.bucket '
                    'ORDER BY f.time DESC LIMIT 1), s.bucket, %L::interval) AS w) AS p'))
                AS v(name, query, final)
        LOOP
            samples := t.name || '_samples';
            final_view := format(t.final, samples, r.width, r.width);
            IF timescale THEN
                BEGIN
                    -- A continuous aggregate of the layout before time-weighting had the final name.
                    IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = t.name) THEN
                        EXECUTE format('DROP MATERIALIZED VIEW %I', t.name);
                    END IF;
                    IF NOT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
                                   WHERE view_name = samples) THEN
                        -- Replaces the plain views of a run before TimescaleDB was there.
                        EXECUTE format('DROP VIEW IF EXISTS %I', t.name);
                        EXECUTE format('DROP VIEW IF EXISTS %I', samples);
                        EXECUTE format('CREATE MATERIALIZED VIEW %I WITH (timescaledb.continuous, '
                                       'timescaledb.materialized_only = false) AS %s WITH NO DATA',
                                       samples, format(t.query, cagg_bin));
                    END IF;
                    -- Real-time aggregation: the buckets the policy has not refreshed yet come from the raw rows.
                    EXECUTE format('ALTER MATERIALIZED VIEW %I SET (timescaledb.materialized_only = false)', samples);
                    PERFORM add_continuous_aggregate_policy(samples::regclass, start_offset => r.start_offset,
                        end_offset => r.end_offset, schedule_interval => r.schedule, if_not_exists => TRUE);
                    PERFORM remove_retention_policy(samples::regclass, if_exists => TRUE);
                    PERFORM add_retention_policy(samples::regclass, agg_keep);
                EXCEPTION WHEN OTHERS THEN
                    RAISE WARNING 'orbiteos schema: continuous aggregate % failed (%); using a plain view',
                        samples, SQLERRM;
                END;
            END IF;
            is_cagg := FALSE;
            IF timescale THEN
                is_cagg := EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = samples);
            END IF;
            IF NOT is_cagg THEN
                BEGIN
                    EXECUTE format('CREATE OR REPLACE VIEW %I AS %s', samples, format(t.query, plain_bin));
                EXCEPTION WHEN invalid_table_definition OR wrong_object_type THEN
                    EXECUTE format('DROP VIEW IF EXISTS %I', t.name);
                    EXECUTE format('DROP VIEW %I', samples);
                    EXECUTE format('CREATE VIEW %I AS %s', samples, format(t.query, plain_bin));
                END;
            END IF;
            BEGIN
                EXECUTE format('CREATE OR REPLACE VIEW %I AS %s', t.name, final_view);
            EXCEPTION WHEN invalid_table_definition OR wrong_object_type THEN
                -- The columns of an older layout: replace the view.
                EXECUTE format('DROP VIEW %I', t.name);
                EXECUTE format('CREATE VIEW %I AS %s', t.name, final_view);
            END;
        END LOOP;
    END LOOP;
END
$$;
