//! The Typst "world" a document is compiled in: a sealed, in-memory file system holding the
//! template, the theme's files and the document's JSON, and the embedded fonts. Nothing
//! outside it is reachable: no disk, no packages, no clock.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use chrono::{Datelike, Timelike, Utc};
use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use super::Document;

const BUILT_IN_TEMPLATE: &str = include_str!("invoice.typ");
const BUILT_IN_FONTS: [&[u8]; 2] =
    [include_bytes!("../../fonts/NotoSans-Regular.ttf"), include_bytes!("../../fonts/NotoSans-Bold.ttf")];
/// Where the template finds the document: `json("/document.json")`.
const DATA_PATH: &str = "/document.json";
const MAIN_PATH: &str = "/invoice.typ";
/// A theme's files live under `<theme>/templates/documents/`, next to its page templates.
const THEME_SUBDIR: &str = "templates/documents";
/// Theme files larger than this are refused: the folder is read into memory at start.
const MAX_THEME_FILE: u64 = 16 * 1024 * 1024;
/// Typst memoises layout work in a process-wide cache; entries unused for this many renders
/// are dropped, which keeps a long-running server's memory flat while the template's own
/// (shared) work stays cached.
const CACHE_MAX_AGE: usize = 8;

/// Compiles documents into PDF/A-2b files. Build it once at start (it checks the template by
/// rendering the sample document) and share it: it is `Send + Sync`.
pub struct PdfRenderer {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: FileId,
    data: FileId,
    sources: HashMap<FileId, Source>,
    files: HashMap<FileId, Bytes>,
}

impl PdfRenderer {
    /// Loads the built-in template and fonts, then the theme's `templates/documents/` folder,
    /// whose `invoice.typ` replaces the built-in one and whose `.ttf`/`.otf` files add fonts;
    /// other files there (a logo) can be read by the template. Fails if the template does not
    /// render the sample document, so a broken theme stops the start, not an invoice run.
    pub fn new(theme_dir: Option<&Path>) -> anyhow::Result<Self> {
        let main = file_id(MAIN_PATH)?;
        let data = file_id(DATA_PATH)?;
        let mut fonts: Vec<Font> = BUILT_IN_FONTS.iter().flat_map(|bytes| Font::iter(Bytes::new(*bytes))).collect();
        let mut sources = HashMap::from([(main, Source::new(main, BUILT_IN_TEMPLATE.to_owned()))]);
        let mut files = HashMap::new();

        if let Some(theme_dir) = theme_dir {
            let root = theme_dir.join(THEME_SUBDIR);
            if root.is_dir() {
                for (vpath, bytes) in read_theme_files(&root)? {
                    if vpath == DATA_PATH {
                        continue;
                    }
                    let id = file_id(&vpath)?;
                    if vpath.ends_with(".typ") {
                        let text = String::from_utf8(bytes.clone())
                            .with_context(|| format!("theme template {vpath} is not UTF-8"))?;
                        sources.insert(id, Source::new(id, text));
                    }
                    let lower = vpath.to_ascii_lowercase();
                    if [".ttf", ".otf", ".ttc", ".otc"].iter().any(|ext| lower.ends_with(ext)) {
                        fonts.extend(Font::iter(Bytes::new(bytes.clone())));
                    }
                    files.insert(id, Bytes::new(bytes));
                }
            }
        }

        let renderer = Self {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            main,
            data,
            sources,
            files,
        };
        renderer.render(&super::sample_document(3)).context("the PDF document template does not render")?;
        Ok(renderer)
    }

    /// Renders one document to the bytes of a PDF file.
    #[tracing::instrument(skip_all, fields(document.number = %doc.number))]
    pub fn render(&self, doc: &Document) -> anyhow::Result<Vec<u8>> {
        let document = self.layout(doc)?;
        let options = PdfOptions {
            // PDF/A needs a creation date; it is when the file was made, not the issue date.
            timestamp: now(),
            ident: Smart::Custom(format!("hostwright/{:?}/{}", doc.kind, doc.number)),
            creator: Smart::Custom(Some("Hostwright".to_owned())),
            standards: PdfStandards::new(&[PdfStandard::A_2b])
                .map_err(|err| anyhow!("choosing the PDF standard: {}", err.message()))?,
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options)
            .map_err(|errors| anyhow!("writing the PDF: {}", self.describe(&errors)));
        typst::comemo::evict(CACHE_MAX_AGE);
        pdf
    }

    /// Lays the document out into pages (what `render` writes as PDF); template warnings are
    /// logged.
    pub(super) fn layout(&self, doc: &Document) -> anyhow::Result<PagedDocument> {
        let (document, warnings) = self.layout_with_warnings(doc)?;
        if !warnings.is_empty() {
            tracing::warn!(warnings = %warnings.join("\n"), "PDF template warnings");
        }
        Ok(document)
    }

    pub(super) fn layout_with_warnings(&self, doc: &Document) -> anyhow::Result<(PagedDocument, Vec<String>)> {
        let json = serde_json::to_vec(doc).context("serialising the document for its template")?;
        let world = DocumentWorld { renderer: self, json: Bytes::new(json) };
        let compiled = typst::compile::<PagedDocument>(&world);
        let warnings = compiled.warnings.iter().map(|warning| world.describe(std::slice::from_ref(warning))).collect();
        match compiled.output {
            Ok(document) => Ok((document, warnings)),
            Err(errors) => {
                typst::comemo::evict(CACHE_MAX_AGE);
                Err(anyhow!("{}", world.describe(&errors)))
            }
        }
    }

    fn describe(&self, diagnostics: &[SourceDiagnostic]) -> String {
        DocumentWorld { renderer: self, json: Bytes::new(Vec::new()) }.describe(diagnostics)
    }
}

/// The renderer's files plus one document's JSON: what one compilation sees.
struct DocumentWorld<'a> {
    renderer: &'a PdfRenderer,
    json: Bytes,
}

impl DocumentWorld<'_> {
    /// `invoice.typ:12:5: unknown variable: foo (hint: ...)`, one per line, for logs and for
    /// a theme author reading the start-up error.
    fn describe(&self, diagnostics: &[SourceDiagnostic]) -> String {
        let lines: Vec<String> = diagnostics
            .iter()
            .map(|diag| {
                let kind = match diag.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let place = diag
                    .span
                    .id()
                    .and_then(|id| {
                        let source = self.source(id).ok()?;
                        let range = self.range(diag.span)?;
                        let line = source.lines().byte_to_line(range.start)?;
                        let column = source.lines().byte_to_column(range.start)?;
                        Some(format!("{}:{}:{}: ", id.vpath().get_without_slash(), line + 1, column + 1))
                    })
                    .unwrap_or_default();
                let hints: String = diag.hints.iter().map(|hint| format!(" (hint: {})", hint.v)).collect();
                format!("{place}{kind}: {}{hints}", diag.message)
            })
            .collect();
        lines.join("\n")
    }
}

impl World for DocumentWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.renderer.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.renderer.book
    }

    fn main(&self) -> FileId {
        self.renderer.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.renderer.sources.get(&id).cloned().ok_or_else(|| not_found(id))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.renderer.data {
            return Ok(self.json.clone());
        }
        if let Some(source) = self.renderer.sources.get(&id) {
            return Ok(Bytes::from_string(source.text().to_owned()));
        }
        self.renderer.files.get(&id).cloned().ok_or_else(|| not_found(id))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.renderer.fonts.get(index).cloned()
    }

    /// No clock: a document shows the dates it is given, so the same data gives the same PDF.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

fn now() -> Option<Timestamp> {
    let now = Utc::now();
    let [month, day, hour, minute, second] = [now.month(), now.day(), now.hour(), now.minute(), now.second()]
        .map(|part| u8::try_from(part).unwrap_or_default());
    // A leap second (60) is not a valid time for Typst.
    Datetime::from_ymd_hms(now.year(), month, day, hour, minute, second.min(59)).map(Timestamp::new_utc)
}

fn file_id(path: &str) -> anyhow::Result<FileId> {
    let vpath = VirtualPath::new(path).map_err(|err| anyhow!("template path {path}: {err}"))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

fn not_found(id: FileId) -> FileError {
    match id.root() {
        VirtualRoot::Package(_) => FileError::Other(Some("packages are not available to document templates".into())),
        VirtualRoot::Project => FileError::NotFound(id.vpath().get_with_slash().into()),
    }
}

/// Every file under `root`, as (`/relative/path`, bytes). Symbolic links are not followed, so
/// the theme cannot pull in files from elsewhere on the machine.
fn read_theme_files(root: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("reading theme folder {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading theme folder {}", dir.display()))?;
            let path = entry.path();
            let kind = entry.file_type().with_context(|| format!("reading {}", path.display()))?;
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = entry.metadata().with_context(|| format!("reading {}", path.display()))?.len();
            if size > MAX_THEME_FILE {
                bail!("theme file {} is larger than {MAX_THEME_FILE} bytes", path.display());
            }
            let relative = path.strip_prefix(root).with_context(|| format!("placing {}", path.display()))?;
            let Some(relative) = relative.to_str() else {
                bail!("theme file name {} is not UTF-8", path.display());
            };
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            out.push((format!("/{}", relative.replace(std::path::MAIN_SEPARATOR, "/")), bytes));
        }
    }
    Ok(out)
}
