//! The blob repository: ASP.NET Core's Azure Blob layout and ETag write loop.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Result, Snapshot,
};
use trousseau_repository_xml::{document, element};

use crate::config::{BlobConfig, Target};
use crate::errors;
use crate::runtime::BlockingRuntime;

/// The version token of a blob that does not exist yet (an ETag is always quoted).
pub const ABSENT: &str = "absent";
/// Write attempts before a contended store gives up (as ASP.NET Core).
const MAX_ATTEMPTS: usize = 5;
/// Base backoff between attempts from the third on, randomised to 80–100 %.
const BACKOFF: Duration = Duration::from_millis(200);
/// ASP.NET Core's content type for the blob.
const CONTENT_TYPE: &str = "application/xml; charset=utf-8";

/// The blob as last read or written: its ETag and its elements.
#[derive(Clone, Debug)]
struct Cached {
    etag: String,
    elements: Vec<String>,
}

/// A key ring kept in one blob.
pub struct BlobRepository {
    store: Arc<dyn ObjectStore>,
    path: Path,
    location: String,
    redact: Vec<String>,
    runtime: BlockingRuntime,
    cache: Mutex<Option<Cached>>,
    max_bytes: u64,
}

impl std::fmt::Debug for BlobRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobRepository")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl BlobRepository {
    /// A repository for `config`. Does not contact the service yet.
    pub fn new(config: BlobConfig) -> Result<Self> {
        let Target {
            store,
            location,
            redact,
        } = config.target()?;
        let path = Path::parse(&config.blob).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "the blob repository `blob` {:?} is not a valid object name: {e}",
                    config.blob
                ),
            )
        })?;
        Ok(BlobRepository {
            store,
            path,
            location,
            redact,
            runtime: BlockingRuntime::new()?,
            cache: Mutex::new(None),
            max_bytes: config.max_ring_bytes,
        })
    }

    fn map(&self, e: &object_store::Error) -> Error {
        errors::map(e, &self.location, &self.redact)
    }

    fn cache(&self) -> MutexGuard<'_, Option<Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current blob: a conditional GET with the cached ETag (304 → the cached copy).
    fn current(&self) -> Result<Option<Cached>> {
        let cached = self.cache().clone();
        let options = GetOptions {
            if_none_match: cached.as_ref().map(|c| c.etag.clone()),
            ..GetOptions::default()
        };
        let fetched = self.runtime.block_on(async {
            let result = self.store.get_opts(&self.path, options).await?;
            let etag = result.meta.e_tag.clone();
            Ok::<_, object_store::Error>((etag, read_at_most(result, self.max_bytes).await?))
        })?;
        let fresh = match fetched {
            Ok((_, Err(size))) => {
                return Err(Error::new(
                    ErrorCode::CorruptData,
                    format!(
                        "the blob repository at {}: the blob is {size} bytes, more than the \
                         {} a key ring may be (elements are a few KB each); replace the blob, \
                         or raise `max_ring_bytes` if the ring is really that large",
                        self.location, self.max_bytes
                    ),
                ))
            }
            Ok((etag, Ok(bytes))) => {
                let etag = etag.ok_or_else(|| {
                    Error::new(
                        ErrorCode::Unsupported,
                        format!("the blob repository at {}: the service returned no ETag, which the repository needs for safe concurrent writes", self.location),
                    )
                })?;
                Some(Cached {
                    etag,
                    elements: document::read(&bytes, &self.location)?,
                })
            }
            Err(object_store::Error::NotModified { .. }) => cached,
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(self.map(&e)),
        };
        self.cache().clone_from(&fresh);
        Ok(fresh)
    }

    /// Uploads `elements` if the blob is still at `base` (`None`: absent). `Ok(None)` when
    /// another writer got there first.
    fn put(&self, base: Option<&str>, elements: Vec<String>) -> Result<Option<String>> {
        let mode = match base {
            Some(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.to_string()),
                version: None,
            }),
            None => PutMode::Create,
        };
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, CONTENT_TYPE.into());
        let options = PutOptions {
            mode,
            attributes,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(document::write(&elements));
        let outcome = self
            .runtime
            .block_on(self.store.put_opts(&self.path, payload, options))?;
        match outcome {
            Ok(result) => {
                let etag = result.e_tag.unwrap_or_default();
                *self.cache() = Some(Cached {
                    etag: etag.clone(),
                    elements,
                });
                Ok(Some(etag))
            }
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => {
                tracing::debug!(location = %self.location, "blob changed under us");
                Ok(None)
            }
            Err(e) => Err(self.map(&e)),
        }
    }

    /// ASP.NET's optimistic loop: read, change, upload conditionally; retry on a lost race.
    fn update(&self, change: impl Fn(&[String]) -> Option<Vec<String>>) -> Result<()> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt >= 2 {
                std::thread::sleep(jittered_backoff());
            }
            let current = self.current()?;
            let (base, elements) = match &current {
                Some(c) => (Some(c.etag.as_str()), c.elements.as_slice()),
                None => (None, &[][..]),
            };
            let Some(changed) = change(elements) else {
                return Ok(());
            };
            if self.put(base, changed)?.is_some() {
                return Ok(());
            }
        }
        Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "the blob repository at {}: other writers changed the blob during each of {MAX_ATTEMPTS} attempts; retry later",
                self.location
            ),
        ))
    }
}

/// The body of `result` when it is at most `limit` bytes; otherwise `Err` with its size (as
/// announced, or as much as was read before giving up: never more than one chunk past
/// `limit`).
async fn read_at_most(
    result: object_store::GetResult,
    limit: u64,
) -> object_store::Result<std::result::Result<Vec<u8>, u64>> {
    if result.meta.size > limit {
        return Ok(Err(result.meta.size));
    }
    let mut body = Vec::with_capacity(usize::try_from(result.meta.size).unwrap_or(0));
    let mut stream = result.into_stream();
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let chunk = chunk?;
        let size = (body.len() as u64).saturating_add(chunk.len() as u64);
        if size > limit {
            return Ok(Err(size));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body))
}

/// 80–100 % of [`BACKOFF`], randomised so that racing writers spread out.
fn jittered_backoff() -> Duration {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    BACKOFF.mul_f64(0.8 + 0.2 * (random % 1000) as f64 / 1000.0)
}

impl Repository for BlobRepository {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new(
            "blob",
            self.location.clone(),
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    fn load(&self) -> Result<Snapshot> {
        Ok(match self.current()? {
            Some(c) => Snapshot::new(
                c.elements
                    .into_iter()
                    .map(|text| Element::new(element::friendly_name(&text), text))
                    .collect(),
                c.etag,
            ),
            None => Snapshot::new(Vec::new(), ABSENT),
        })
    }

    fn store(&self, new: &Element) -> Result<()> {
        let text = element::compact(new.xml()).map_err(|e| e.context(new.name()))?;
        self.update(|elements| {
            let mut all = elements.to_vec();
            all.push(text.clone());
            Some(all)
        })
    }

    fn delete(&self, names: &[String]) -> Result<()> {
        self.update(|elements| {
            let kept: Vec<String> = elements
                .iter()
                .filter(|e| !names.contains(&element::friendly_name(e)))
                .cloned()
                .collect();
            (kept.len() != elements.len()).then_some(kept)
        })
    }

    fn store_conditional(&self, expected_version: &str, new: &[Element]) -> Result<String> {
        let texts = new
            .iter()
            .map(|e| element::compact(e.xml()).map_err(|err| err.context(e.name())))
            .collect::<Result<Vec<_>>>()?;
        let conflict = || {
            Error::new(
                ErrorCode::Conflict,
                format!(
                    "the blob repository at {} changed since it was read; read it again and retry",
                    self.location
                ),
            )
        };
        let current = self.current()?;
        let (base, mut elements) = match current {
            Some(c) if c.etag == expected_version => (Some(c.etag), c.elements),
            None if expected_version == ABSENT => (None, Vec::new()),
            _ => return Err(conflict()),
        };
        elements.extend(texts);
        self.put(base.as_deref(), elements)?.ok_or_else(conflict)
    }
}
