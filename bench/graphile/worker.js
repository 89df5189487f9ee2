// The peer of bench/queue.sh: graphile-worker with a trivial task that, like a
// jsruntime run, writes a history row (job, queued at, started at, output).
const { run } = require('graphile-worker');

async function main() {
  const runner = await run({
    connectionString: process.env.DATABASE_URL,
    concurrency: Number(process.env.CONCURRENCY || 2),
    pollInterval: 1000,
    taskList: {
      tick: async (payload, helpers) => {
        const started = new Date();
        const output = { ok: true, n: payload.n };
        await helpers.query(
          'INSERT INTO gw_history(job_id, created_at, started_at, output) VALUES ($1, $2, $3, $4)',
          [helpers.job.id, helpers.job.created_at, started, output],
        );
      },
    },
  });
  await runner.promise;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
