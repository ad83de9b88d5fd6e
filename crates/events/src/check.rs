//! The outbox's part of `tenpo check`: no event lost (each aggregate's events are numbered 1, 2,
//! ... without a gap, up to its counter) and none stuck (pending past its time, claimed past its
//! lease, or given up on), over the transaction's tenant.

use std::time::Duration;

use db::Tx;
use kernel::consistency::{Checked, Violation};

/// `stuck_after`: how long past its time (or its lease) an event may still be waiting before
/// it counts as stuck; a relay that is merely busy catches up within it.
pub async fn outbox(tx: &mut Tx, stuck_after: Duration) -> Result<Checked, sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events").fetch_one(&mut **tx).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH agg AS (SELECT aggregate_type, aggregate_id, count(*) AS n, count(DISTINCT sequence) AS distinct_n,
                             min(sequence) AS first, max(sequence) AS last
                        FROM outbox_events GROUP BY aggregate_type, aggregate_id)
         SELECT a.aggregate_type || ' ' || a.aggregate_id,
                a.n || ' events numbered ' || a.first || ' to ' || a.last || ' (' || a.distinct_n || ' distinct)'
           FROM agg a WHERE a.first <> 1 OR a.last <> a.n OR a.distinct_n <> a.n
         UNION ALL
         SELECT a.aggregate_type || ' ' || a.aggregate_id,
                'the last event is ' || coalesce(a.last::text, 'none') || ' but the counter is at ' || s.last_sequence
           FROM outbox_sequences s
           LEFT JOIN agg a ON a.aggregate_type = s.aggregate_type AND a.aggregate_id = s.aggregate_id
          WHERE a.last IS DISTINCT FROM s.last_sequence
         UNION ALL
         SELECT 'event ' || e.id || ' (' || e.event_type || ')',
                CASE e.status
                  WHEN 'failed' THEN 'given up after ' || e.attempts || ' attempts: ' || coalesce(e.last_error, '')
                  WHEN 'pending' THEN 'pending since ' || e.available_at || ' (' || e.attempts || ' attempts)'
                  ELSE 'claimed, lease ended ' || e.locked_until END
           FROM outbox_events e
          WHERE e.status = 'failed'
             OR (e.status = 'pending' AND e.available_at < now() - make_interval(secs => $1))
             OR (e.status = 'processing' AND coalesce(e.locked_until, e.available_at) < now() - make_interval(secs => $1))
         ORDER BY 1",
    )
    .bind(stuck_after.as_secs_f64())
    .fetch_all(&mut **tx)
    .await?;
    Ok(Checked::new(checked, rows.into_iter().map(|(s, d)| Violation::new(s, d)).collect()))
}
