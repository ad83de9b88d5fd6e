//! The thread helper: the queue's batcher and the decider each run on a thread and runtime of
//! their own.

/// Runs `task` on a thread and runtime of its own, until it ends. The queue's batcher and
/// decider run so: every shopper of a flash sale waits on their round trips, which on the API's
/// runtime would queue behind the shoppers' requests themselves. Database pools belong to the
/// runtime that opens their connections, so `task` opens its own ([`Db::own_pool`]).
pub async fn apart<F, Fut>(name: &'static str, task: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let ran =
        tokio::task::spawn_blocking(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(task()),
            Err(e) => tracing::error!(error = %e, task = name, "cannot start a runtime"),
        })
        .await;
    if let Err(e) = ran {
        tracing::error!(error = %e, task = name, "stopped abnormally");
    }
}
