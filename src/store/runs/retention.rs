//! Removing runs and their files: an enqueue undone, finished runs past retention,
//! files past their expiry.

use crate::store::statement::Statement;
use crate::store::{Store, StoreError, in_write_tx, on_reader, sql, values};

impl Store {
    /// Removes a run whose job could not be pushed, with its idempotency key, so the
    /// enqueue is all-or-nothing.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn delete_run(&self, id: &str) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sql!("runs/forget_idempotency.sql").query(&values![id])
                .execute(&mut *tx)
                .await?;
            sql!("runs/delete.sql").query(&values![id]).execute(&mut *tx).await?;
        });
        Ok(())
    }

    /// Deletes finished runs older than `cutoff_ms` and returns their file paths, so
    /// the caller can remove the files.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn prune_runs(&self, cutoff_ms: i64) -> Result<Vec<String>, StoreError> {
        self.release_files(
            sql!("runs/prunable_files.sql"),
            sql!("runs/prune.sql"),
            cutoff_ms,
        )
        .await
    }

    /// Forgets the files of completed runs whose files expired before `now_ms`, and
    /// returns their paths for removal.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn expire_files(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        self.release_files(
            sql!("runs/expired_files.sql"),
            sql!("runs/expire_files.sql"),
            now_ms,
        )
        .await
    }

    /// In one transaction, reads the file paths `select` finds and applies `release`
    /// (both take the same `$1`), so no path is forgotten before it is returned.
    async fn release_files(
        &self,
        select: &'static Statement,
        release: &'static Statement,
        bound: i64,
    ) -> Result<Vec<String>, StoreError> {
        let paths: Vec<Option<String>> = in_write_tx!(self, tx => {
            let paths = select.query_scalar(&values![bound]).fetch_all(&mut *tx).await?;
            release.query(&values![bound]).execute(&mut *tx).await?;
            paths
        });
        Ok(paths.into_iter().flatten().collect())
    }

    /// Every file path a run still owns, for the storage sweep.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn owned_files(&self) -> Result<Vec<String>, StoreError> {
        let paths: Vec<String> = on_reader!(self, pool => {
            sql!("runs/owned_files.sql").query_scalar(&values![]).fetch_all(pool).await
        })?;
        Ok(paths)
    }
}
