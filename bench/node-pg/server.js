// GET /items/:id -> the row as JSON, from Postgres through a pool of
// POOL connections: the peer of a jsruntime endpoint script doing the same.
const http = require('http');
const { Pool } = require('pg');

const [port, pgPort, db, poolSize] = process.argv.slice(2);
const pool = new Pool({ host: '/tmp', port: Number(pgPort), user: 'postgres', database: db, max: Number(poolSize) });

http.createServer(async (req, res) => {
  const m = /^\/items\/(\d+)$/.exec(req.url);
  if (!m) { res.writeHead(404).end(); return; }
  try {
    const { rows } = await pool.query({ name: 'item', text: 'SELECT id, name, price FROM items WHERE id = $1', values: [Number(m[1])] });
    const body = JSON.stringify(rows[0] ?? null);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  } catch (e) {
    res.writeHead(500).end(String(e.message));
  }
}).listen(Number(port), '127.0.0.1');
