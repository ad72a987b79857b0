// PostGraphile 5 as make bench runs it: the amber preset, one PostgreSQL
// service exposing only the benchmark tenant's schema, no GraphiQL, no
// watch mode, no explain. bench/run.sh sets the environment variables.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // Amber offers ordering and conditions only on indexed columns; the
  // benchmark's extras have no index (tenantgraph adds none), so let every
  // column be ordered and filtered on, as the v4 preset's ignoreIndexes does.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    // node-postgres' default pool: at most 10 connections.
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: [process.env.PG_SCHEMA],
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    graphiql: false,
    watch: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
