-- Up Migration
-- Herald's tables live in their own schema, so a shared database stays tidy.
CREATE SCHEMA IF NOT EXISTS herald;

-- Down Migration
DROP SCHEMA IF EXISTS herald CASCADE;
