//! The signals that stop a long-running command (`meshlog scrape`, `meshlog
//! serve`): Ctrl-C (SIGINT) and SIGTERM, how Kubernetes and systemd stop a process.

/// Completes on the first Ctrl-C or SIGTERM, with its name; a signal that cannot be
/// watched is reported and never completes.
pub async fn stop_signal() -> &'static str {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot watch for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => "interrupted",
        () = terminate => "terminated",
    }
}
