// The pool's schema on PostgreSQL. The rule is in the schema: a triplet is one row, UNIQUE
// (product_key, device_name); a unit holds one triplet of a product (a partial UNIQUE index on
// (product_key, mac)); every triplet that may have left a station is in `binding`, UNIQUE
// (product_key, device_name) and UNIQUE (mac, product_key), never deleted. A station's role owns
// nothing and can SELECT nothing: it calls the functions below, SECURITY DEFINER with a pinned
// search_path, each one transaction; `reserve` takes the next free row in one statement
// (FOR UPDATE SKIP LOCKED ... RETURNING), so stations never wait on each other's rows. The
// station is the role that logged in (session_user).
#include "factory/pg/schema.hpp"

namespace aliot::factory::pg {

const char* const k_schema = R"sql(
SELECT pg_advisory_xact_lock(727701030);
CREATE SCHEMA IF NOT EXISTS aliot;
REVOKE ALL ON SCHEMA aliot FROM PUBLIC;

CREATE TABLE IF NOT EXISTS aliot.batch(
  batch_id bigserial PRIMARY KEY,
  sha256 text NOT NULL UNIQUE,
  origin text NOT NULL,
  format text NOT NULL,
  rows integer NOT NULL,
  imported_by text NOT NULL DEFAULT session_user,
  imported_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE IF NOT EXISTS aliot.triplet(
  triplet_id bigserial PRIMARY KEY,
  product_key text NOT NULL,
  device_name text NOT NULL,
  device_secret text NOT NULL,
  product_secret text NOT NULL DEFAULT '',
  fp text NOT NULL,
  batch_id bigint REFERENCES aliot.batch,
  issued boolean NOT NULL DEFAULT false,
  state text NOT NULL DEFAULT 'AVAILABLE' CHECK (state IN
    ('AVAILABLE','RESERVED','TRANSMITTED','BOUND','FAILED','QUARANTINED')),
  mac text,
  job_id text,
  station text,
  reserved_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (product_key, device_name));
CREATE INDEX IF NOT EXISTS triplet_free ON aliot.triplet(product_key, triplet_id)
  WHERE state = 'AVAILABLE';
CREATE UNIQUE INDEX IF NOT EXISTS triplet_unit ON aliot.triplet(product_key, mac)
  WHERE mac IS NOT NULL;
CREATE INDEX IF NOT EXISTS triplet_station ON aliot.triplet(station, state);

CREATE TABLE IF NOT EXISTS aliot.binding(
  product_key text NOT NULL,
  device_name text NOT NULL,
  mac text NOT NULL,
  station text NOT NULL,
  job_id text,
  state text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (product_key, device_name),
  UNIQUE (mac, product_key),
  FOREIGN KEY (product_key, device_name) REFERENCES aliot.triplet(product_key, device_name));

-- A row as the station functions return it (the secrets only from reserve and record_issued).
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE n.nspname = 'aliot' AND t.typname = 'entry') THEN
    CREATE TYPE aliot.entry AS (product_key text, device_name text, device_secret text,
      product_secret text, fp text, state text, mac text, job_id text, issued boolean,
      fresh boolean);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION aliot.entry_of(r aliot.triplet, with_secret boolean)
RETURNS aliot.entry LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $f$
  SELECT ROW(r.product_key, r.device_name,
             CASE WHEN with_secret THEN r.device_secret ELSE '' END,
             CASE WHEN with_secret THEN r.product_secret ELSE '' END,
             r.fp, r.state, r.mac, r.job_id, r.issued, false)::aliot.entry
$f$;

-- Whether the caller is the pool's owner (or a member of it): it sees every station.
CREATE OR REPLACE FUNCTION aliot.is_owner() RETURNS boolean LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT pg_has_role(session_user, current_user, 'MEMBER')
$f$;

-- The triplet for the unit `p_mac`: the one already tied to it, else the next free one
-- (`fresh`: taken now).
CREATE OR REPLACE FUNCTION aliot.reserve(p_pk text, p_mac text, p_job text)
RETURNS SETOF aliot.entry LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
  r aliot.triplet;
  e aliot.entry;
BEGIN
  SELECT t.* INTO r FROM aliot.triplet t WHERE t.product_key = p_pk AND t.mac = p_mac FOR UPDATE;
  IF NOT FOUND THEN
    UPDATE aliot.triplet t SET state = 'RESERVED', mac = p_mac, job_id = p_job,
           station = session_user, reserved_at = now(), updated_at = now()
     WHERE t.triplet_id = (SELECT f.triplet_id FROM aliot.triplet f
                            WHERE f.product_key = p_pk AND f.state = 'AVAILABLE'
                            ORDER BY f.triplet_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING t.* INTO r;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'AL002',
        MESSAGE = format('no free triplet of product %s left', p_pk);
    END IF;
    e := aliot.entry_of(r, true);
    e.fresh := true;
    RETURN NEXT e;
    RETURN;
  ELSIF r.state = 'QUARANTINED' THEN
    RAISE EXCEPTION USING ERRCODE = 'AL003',
      MESSAGE = format('the unit %s is tied to the quarantined triplet %s of %s', p_mac,
                       r.device_name, p_pk),
      HINT = 'a quarantined triplet is given out only by a supervisor''s rebind';
  ELSE
    -- the unit is at this station now
    UPDATE aliot.triplet t SET station = session_user, updated_at = now(),
           job_id = CASE WHEN t.state = 'RESERVED' THEN p_job ELSE t.job_id END
     WHERE t.triplet_id = r.triplet_id RETURNING t.* INTO r;
  END IF;
  RETURN NEXT aliot.entry_of(r, true);
END $f$;

-- The triplet tied to the unit (not QUARANTINED), without its secrets.
CREATE OR REPLACE FUNCTION aliot.tied_to(p_pk text, p_mac text)
RETURNS SETOF aliot.entry LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.entry_of(t, false) FROM aliot.triplet t
   WHERE t.product_key = p_pk AND t.mac = p_mac AND t.state <> 'QUARANTINED'
$f$;

-- One-type-one-secret: the credentials the platform just issued, RESERVED for the unit.
CREATE OR REPLACE FUNCTION aliot.record_issued(p_pk text, p_dn text, p_ds text, p_ps text,
                                               p_fp text, p_mac text, p_job text)
RETURNS SETOF aliot.entry LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $f$
DECLARE r aliot.triplet;
BEGIN
  SELECT t.* INTO r FROM aliot.triplet t
   WHERE t.product_key = p_pk AND (t.device_name = p_dn OR t.mac = p_mac)
   ORDER BY (t.device_name = p_dn) DESC LIMIT 1 FOR UPDATE;
  IF FOUND THEN
    IF r.device_name = p_dn AND r.mac = p_mac AND r.fp = p_fp THEN
      RETURN NEXT aliot.entry_of(r, true);
      RETURN;
    END IF;
    IF r.device_name <> p_dn THEN
      RAISE EXCEPTION USING ERRCODE = 'AL003',
        MESSAGE = format('the unit %s is already tied to the triplet %s of %s in the pool',
                         p_mac, r.device_name, p_pk);
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'AL004',
      MESSAGE = format('the pool already holds %s of %s with another %s; nothing was overwritten',
                       p_dn, p_pk, CASE WHEN r.mac IS DISTINCT FROM p_mac
                                        THEN 'unit (' || coalesce(r.mac, '') || ')'
                                        ELSE 'secret' END);
  END IF;
  INSERT INTO aliot.triplet(product_key, device_name, device_secret, product_secret, fp, issued,
                            state, mac, job_id, station, reserved_at)
  VALUES (p_pk, p_dn, p_ds, p_ps, p_fp, true, 'RESERVED', p_mac, p_job, session_user, now())
  RETURNING * INTO r;
  RETURN NEXT aliot.entry_of(r, true);
END $f$;

-- A row's move (not granted: the station calls the functions below). p_jmac: the MAC the
-- station's journal has a write intent for (NULL: none). Returns the row's state after it.
CREATE OR REPLACE FUNCTION aliot.move(p_pk text, p_dn text, p_job text, p_op text, p_jmac text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
  r aliot.triplet;
  to_state text;
  untie boolean := false;
BEGIN
  SELECT t.* INTO r FROM aliot.triplet t
   WHERE t.product_key = p_pk AND t.device_name = p_dn FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'AL004',
      MESSAGE = format('the triplet %s of %s is not in the pool', p_dn, p_pk);
  END IF;
  IF r.state <> 'AVAILABLE' AND r.station IS DISTINCT FROM session_user
     AND NOT aliot.is_owner() THEN
    RAISE EXCEPTION USING ERRCODE = 'AL004',
      MESSAGE = format('the triplet %s of %s is held by the station %s, not %s', p_dn, p_pk,
                       coalesce(r.station, '(none)'), session_user);
  END IF;
  IF r.state = 'AVAILABLE' AND p_op <> 'release' THEN
    RAISE EXCEPTION USING ERRCODE = 'AL001',
      MESSAGE = format('the triplet %s was never reserved', p_dn);
  END IF;
  IF p_op = 'transmitted' THEN
    IF r.state <> 'RESERVED' THEN RETURN r.state; END IF; -- already past it
    to_state := 'TRANSMITTED';
  ELSIF p_op = 'bound' THEN
    to_state := 'BOUND';
  ELSIF p_op IN ('failed', 'release') THEN
    IF p_op = 'release' AND r.state <> 'RESERVED' THEN
      RAISE EXCEPTION USING ERRCODE = 'AL004',
        MESSAGE = format('the triplet %s is %s, not RESERVED: it stays', p_dn, r.state);
    END IF;
    IF r.state = 'TRANSMITTED' THEN
      to_state := 'FAILED';
    ELSIF r.state <> 'RESERVED' THEN
      RETURN r.state; -- BOUND, FAILED, QUARANTINED stay
    ELSIF p_jmac IS NOT NULL THEN -- past its write intent: tied to its unit, or set aside
      IF lower(p_jmac) = lower(r.mac) THEN
        to_state := CASE WHEN p_op = 'failed' THEN 'FAILED' ELSE 'TRANSMITTED' END;
      ELSE
        to_state := 'QUARANTINED';
        untie := true;
      END IF;
    ELSIF r.issued THEN
      RETURN r.state; -- an issued secret stays its unit's
    ELSE
      to_state := 'AVAILABLE';
      untie := true;
    END IF;
  ELSIF p_op = 'set_aside' THEN
    to_state := 'QUARANTINED';
  ELSIF p_op = 'set_aside_untie' THEN
    to_state := 'QUARANTINED';
    untie := true;
  ELSE
    RAISE EXCEPTION 'aliot.move: unknown operation %', p_op;
  END IF;
  UPDATE aliot.triplet t
     SET state = to_state,
         mac = CASE WHEN untie THEN NULL ELSE t.mac END,
         job_id = CASE WHEN untie THEN NULL ELSE coalesce(nullif(p_job, ''), t.job_id) END,
         station = CASE WHEN untie THEN NULL ELSE t.station END,
         reserved_at = CASE WHEN to_state = 'RESERVED' THEN t.reserved_at END,
         updated_at = now()
   WHERE t.triplet_id = r.triplet_id;
  IF to_state IN ('TRANSMITTED', 'FAILED', 'BOUND') AND r.mac IS NOT NULL THEN
    INSERT INTO aliot.binding AS b(product_key, device_name, mac, station, job_id, state)
    VALUES (r.product_key, r.device_name, r.mac, session_user,
            coalesce(nullif(p_job, ''), r.job_id), to_state)
    ON CONFLICT (product_key, device_name) DO UPDATE
      SET state = EXCLUDED.state, job_id = EXCLUDED.job_id, station = EXCLUDED.station,
          updated_at = now()
      WHERE b.mac = EXCLUDED.mac;
  END IF;
  RETURN to_state;
END $f$;

CREATE OR REPLACE FUNCTION aliot.mark_transmitted(p_pk text, p_dn text, p_job text)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.move(p_pk, p_dn, p_job, 'transmitted', NULL)
$f$;
CREATE OR REPLACE FUNCTION aliot.bind(p_pk text, p_dn text, p_job text)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.move(p_pk, p_dn, p_job, 'bound', NULL)
$f$;
CREATE OR REPLACE FUNCTION aliot.mark_failed(p_pk text, p_dn text, p_job text, p_jmac text)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.move(p_pk, p_dn, p_job, 'failed', p_jmac)
$f$;
CREATE OR REPLACE FUNCTION aliot.release(p_pk text, p_dn text, p_job text, p_jmac text)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.move(p_pk, p_dn, p_job, 'release', p_jmac)
$f$;
-- A row whose secret no longer gives its fingerprint, set aside (tied to its unit or not).
CREATE OR REPLACE FUNCTION aliot.set_aside(p_pk text, p_dn text, p_job text, p_untie boolean)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.move(p_pk, p_dn, p_job,
                    CASE WHEN p_untie THEN 'set_aside_untie' ELSE 'set_aside' END, NULL)
$f$;

-- The caller's RESERVED rows (recovery), without secrets.
CREATE OR REPLACE FUNCTION aliot.my_reserved()
RETURNS SETOF aliot.entry LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $f$
  SELECT aliot.entry_of(t, false) FROM aliot.triplet t
   WHERE t.state = 'RESERVED' AND t.station = session_user ORDER BY t.triplet_id
$f$;

-- A reservation whose answer was lost with the connection: nothing of it was sent (the station
-- never had the secret), so it goes back. Returns how many rows.
CREATE OR REPLACE FUNCTION aliot.release_job(p_job text)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  WITH r AS (
    UPDATE aliot.triplet t SET state = 'AVAILABLE', mac = NULL, job_id = NULL, station = NULL,
           reserved_at = NULL, updated_at = now()
     WHERE t.state = 'RESERVED' AND t.job_id = p_job AND t.station = session_user
       AND NOT t.issued
    RETURNING 1)
  SELECT count(*) FROM r
$f$;

-- Counts per product, station and state; the oldest reservation. A station's role sees the
-- pool's counts and its own station; the owner every station.
CREATE OR REPLACE FUNCTION aliot.status()
RETURNS TABLE(product_key text, station text, state text, n bigint, oldest text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
  SELECT t.product_key,
         CASE WHEN aliot.is_owner() OR t.station = session_user
              THEN coalesce(t.station, '') ELSE '' END AS s,
         t.state, count(*),
         to_char(min(t.reserved_at) FILTER (WHERE t.state = 'RESERVED') AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    FROM aliot.triplet t GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
$f$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA aliot FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA aliot FROM PUBLIC;
)sql";

const char* const k_station_functions[] = {
    "aliot.reserve(text, text, text)",
    "aliot.tied_to(text, text)",
    "aliot.record_issued(text, text, text, text, text, text, text)",
    "aliot.mark_transmitted(text, text, text)",
    "aliot.bind(text, text, text)",
    "aliot.mark_failed(text, text, text, text)",
    "aliot.release(text, text, text, text)",
    "aliot.set_aside(text, text, text, boolean)",
    "aliot.my_reserved()",
    "aliot.release_job(text)",
    "aliot.status()",
    nullptr,
};

} // namespace aliot::factory::pg
