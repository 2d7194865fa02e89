-- A tenant's settings become its typed, versioned record (package
-- internal/tenant, document version 2), and its state records since when it
-- holds. Version 1 was an untyped JSON object: its members keep their names
-- and shapes, but for the key health monitor's record, "monitor", which
-- becomes "outage". Rows from before keep their last update as the time
-- their state began.

ALTER TABLE tenants RENAME COLUMN settings TO model;
ALTER TABLE tenants ADD COLUMN state_since INTEGER NOT NULL DEFAULT 0;

UPDATE tenants SET
    state_since = updated_at,
    model = CASE
        WHEN json_type(model, '$.monitor') IS NULL OR json_type(model, '$.monitor') = 'null'
            THEN json_set(json_remove(model, '$.monitor'), '$.v', 2)
        ELSE json_remove(json_set(model, '$.v', 2, '$.outage', json(json_extract(model, '$.monitor'))), '$.monitor')
    END;
