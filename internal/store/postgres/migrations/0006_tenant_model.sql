-- A tenant's settings become its typed, versioned record (package
-- internal/tenant, document version 2), and its state records since when it
-- holds. Version 1 was an untyped JSON object: its members keep their names
-- and shapes, but for the key health monitor's record, "monitor", which
-- becomes "outage". Rows from before keep their last update as the time
-- their state began.

ALTER TABLE tenants RENAME COLUMN settings TO model;
ALTER TABLE tenants ADD COLUMN state_since timestamptz NOT NULL DEFAULT now();

UPDATE tenants SET
    state_since = updated_at,
    model = ((CASE
        WHEN jsonb_typeof(model::jsonb -> 'monitor') = 'object'
            THEN (model::jsonb - 'monitor') || jsonb_build_object('outage', model::jsonb -> 'monitor')
        ELSE model::jsonb - 'monitor'
    END) || '{"v": 2}'::jsonb)::text;
