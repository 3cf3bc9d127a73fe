//! The one way the product stores files (ticket attachments, invoice PDFs, downloads): a
//! local directory on a single machine, any S3-compatible store in a cluster. Nothing else
//! in the product writes to the local disk.

use std::sync::Arc;

use anyhow::Context;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use secrecy::ExposeSecret;

use crate::config::{FileBackend, Settings};

/// Files by key, e.g. `tickets/42/screenshot.png`.
#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    description: String,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl FileStore {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        match settings.files.backend {
            FileBackend::Local => {
                let dir = settings.files.path.clone().unwrap_or_else(|| settings.data_dir.join("files"));
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("opening the file folder {}", dir.display()))?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: String::new(),
                    description: format!("local {}", dir.display()),
                })
            }
            FileBackend::S3 => {
                let s3 = &settings.files.s3;
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(s3.secret_access_key.expose_secret())
                    .with_virtual_hosted_style_request(!s3.path_style);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                let store = builder.build().context("configuring the S3 file store")?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: s3.prefix.trim_matches('/').to_owned(),
                    description: format!("s3 bucket {}", s3.bucket),
                })
            }
        }
    }

    fn path(&self, key: &str) -> anyhow::Result<StorePath> {
        if key.is_empty() || key.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            anyhow::bail!("invalid file key {key:?}");
        }
        let full = if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) };
        StorePath::parse(&full).with_context(|| format!("invalid file key {key:?}"))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let path = self.path(key)?;
        self.store.put(&path, PutPayload::from(bytes)).await.with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match self.store.get(&path).await {
            Ok(result) => Ok(Some(result.bytes().await.with_context(|| format!("reading {key}"))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(anyhow::Error::new(err).context(format!("reading {key}"))),
        }
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("deleting {key}"))),
        }
    }

    /// Can the store be reached? (A missing probe object is fine; an error is not.)
    pub async fn check(&self) -> anyhow::Result<()> {
        let path = self.path(".readiness-probe")?;
        match self.store.head(&path).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("reaching the file store ({})", self.description))),
        }
    }
}
