// PostGraphile 5 over Chirp's database, for bench/compare.py: schema bench_pg only (see
// schema.sql; apply it first), Amber preset, no GraphiQL, no watch mode, one pg pool of
// DB_POOL_SIZE connections (20, as Chirp) named chirp-bench-postgraphile. No authentication:
// the viewer's id is a query argument.
//
//     DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chirp_bench PORT=8003 \
//         node_modules/.bin/node server.mjs
import { createServer } from "node:http";

import pg from "pg";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const connectionString =
  process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/chirp_bench";
const port = Number(process.env.PORT ?? 8003);
const pool = new pg.Pool({
  connectionString,
  max: Number(process.env.DB_POOL_SIZE ?? 20),
  application_name: "chirp-bench-postgraphile",
  options: "-c jit=off", // as Chirp's and the raw reference's connections
});

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ pool, schemas: ["bench_pg"] })],
  grafserv: { port, host: "127.0.0.1", graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const server = createServer();
server.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
await pgl.createServ(grafserv).addTo(server);
server.listen(port, "127.0.0.1", () => console.log(`postgraphile on 127.0.0.1:${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    server.close();
    await pgl.release();
    await pool.end();
    process.exit(0);
  });
}
