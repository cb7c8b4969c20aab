-- A schema with the hard parts of schema-driven generation (issue #10), not the reference domain:
-- a hackathon's teams and users (a captain cycle), a category tree (self-reference), judges that
-- are people (joined-table inheritance), submissions (composite unique), a partial unique index,
-- CHECK constraints, an enum, jsonb, arrays, ranges, identity ALWAYS, and a second schema with a
-- partitioned table.
CREATE TYPE member_role AS ENUM ('member', 'captain', 'mentor');

CREATE TABLE teams (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(60) NOT NULL UNIQUE,
    slug text NOT NULL,
    captain_id uuid,
    size_limit smallint NOT NULL CHECK (size_limit BETWEEN 2 AND 8),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT teams_updated_after_created CHECK (created_at <= updated_at)
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    team_id bigint NOT NULL REFERENCES teams (id),
    email text NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    role member_role NOT NULL,
    tags text[] NOT NULL,
    settings jsonb NOT NULL,
    country_code char(2) NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    age integer CHECK (age >= 18 AND age < 100),
    status varchar(10) NOT NULL CHECK (status IN ('active', 'invited', 'banned')),
    handle varchar(20) NOT NULL CHECK (length(handle) >= 3),
    last_ip inet,
    avatar bytea,
    birthday date,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
ALTER TABLE teams ADD CONSTRAINT teams_captain_id_fkey FOREIGN KEY (captain_id) REFERENCES users (id);

CREATE TABLE categories (
    id serial PRIMARY KEY,
    parent_id integer REFERENCES categories (id),
    name text NOT NULL
);

CREATE TABLE challenges (
    id uuid PRIMARY KEY,
    category_id integer NOT NULL REFERENCES categories (id),
    title text NOT NULL,
    points numeric(6, 2) NOT NULL CHECK (points > 0),
    open_during tstzrange,
    difficulty int4range
);

CREATE TABLE submissions (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    challenge_id uuid NOT NULL REFERENCES challenges (id),
    attempt smallint NOT NULL CHECK (attempt >= 1),
    score double precision,
    duration interval,
    submitted_at timestamp NOT NULL,
    UNIQUE (user_id, challenge_id, attempt)
);

CREATE TABLE people (
    id integer PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL
);
CREATE TABLE judges (
    id integer PRIMARY KEY REFERENCES people (id),
    bio text,
    years smallint NOT NULL CHECK (years >= 0)
);

CREATE SCHEMA billing;
CREATE TABLE billing.invoices (
    id bigint GENERATED ALWAYS AS IDENTITY,
    team_id bigint NOT NULL REFERENCES public.teams (id),
    issued_on date NOT NULL,
    amount numeric(10, 2) NOT NULL CHECK (amount >= 0),
    currency char(3) NOT NULL,
    PRIMARY KEY (id, issued_on)
) PARTITION BY RANGE (issued_on);
CREATE TABLE billing.invoices_2024 PARTITION OF billing.invoices FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE billing.invoices_2025 PARTITION OF billing.invoices FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
