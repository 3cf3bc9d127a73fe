use std::sync::LazyLock;

use typst::layout::{Frame, FrameItem};
use typst_layout::PagedDocument;

use super::*;

static RENDERER: LazyLock<PdfRenderer> = LazyLock::new(|| PdfRenderer::new(None).expect("built-in template renders"));

/// The text of each page, in layout order, and whether any glyph was missing from the fonts.
fn page_texts(document: &PagedDocument) -> (Vec<String>, bool) {
    fn walk(frame: &Frame, text: &mut String, missing: &mut bool) {
        for (_, item) in frame.items() {
            match item {
                FrameItem::Group(group) => walk(&group.frame, text, missing),
                FrameItem::Text(run) => {
                    text.push_str(&run.text);
                    text.push(' ');
                    *missing |= run.glyphs.iter().any(|glyph| glyph.id == 0);
                }
                _ => {}
            }
        }
    }
    let mut missing = false;
    let texts = document
        .pages()
        .iter()
        .map(|page| {
            let mut text = String::new();
            walk(&page.frame, &mut text, &mut missing);
            text
        })
        .collect();
    (texts, missing)
}

/// Without spaces (runs and lines split there) and case (labels may be set in capitals).
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<String>().to_lowercase()
}

fn assert_prints(texts: &[String], expected: &str) {
    let all = squash(&texts.concat());
    assert!(all.contains(&squash(expected)), "{expected:?} is not printed; the pages read:\n{}", texts.join("\n---\n"));
}

#[test]
fn renderer_can_live_in_the_app_state() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<PdfRenderer>();
}

#[test]
fn the_sample_invoice_renders_to_a_one_page_pdf() {
    let doc = sample_document(8);
    let pdf = RENDERER.render(&doc).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF: {:?}", &pdf[..pdf.len().min(16)]);

    let (texts, missing) = page_texts(&RENDERER.layout(&doc).unwrap());
    assert_eq!(texts.len(), 1);
    assert!(!missing, "a glyph is missing from the embedded fonts");
    for expected in [
        "Invoice",
        "2026-00042",
        "Blue Harbour Hosting GmbH",
        "Amtsgericht München HRB 234567",
        "Balance due",
        "Subtotal",
    ] {
        assert_prints(&texts, expected);
    }
    assert!(!texts[0].contains("Page 1"), "a one-page document carries no page number");
}

#[test]
fn the_built_in_template_renders_every_kind_without_warnings() {
    for kind in [DocumentKind::Invoice, DocumentKind::Proforma, DocumentKind::CreditNote] {
        for lines in [0, 1, 60] {
            let mut doc = sample_document(lines);
            doc.kind = kind;
            let (_, warnings) = RENDERER.layout_with_warnings(&doc).unwrap();
            assert!(warnings.is_empty(), "{kind:?} with {lines} lines: {warnings:#?}");
        }
    }
    let mut bare = sample_document(1);
    bare.due_date = None;
    bare.discount = None;
    bare.credit_applied = None;
    bare.amount_paid = None;
    bare.tax_lines.clear();
    bare.notes.clear();
    bare.references.clear();
    bare.seller = Party { name: "Solo Hosting".to_owned(), ..Party::default() };
    bare.buyer = Party { name: "Jan Novák".to_owned(), ..Party::default() };
    let (_, warnings) = RENDERER.layout_with_warnings(&bare).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn the_sample_pdf_embeds_a_subset_of_the_font_not_all_of_it() {
    let pdf = RENDERER.render(&sample_document(8)).unwrap();
    // Each font file is over 500 KB; a subset of the glyphs used is a few tens of KB.
    assert!(pdf.len() < 200_000, "the PDF is {} bytes", pdf.len());
}

#[test]
fn sixty_lines_run_over_several_numbered_pages() {
    let doc = sample_document(60);
    let (texts, _) = page_texts(&RENDERER.layout(&doc).unwrap());
    assert!(texts.len() > 1, "60 lines fit on {} page(s)", texts.len());
    let pages = texts.len();
    for (index, text) in texts.iter().enumerate() {
        assert_prints(std::slice::from_ref(text), &format!("Page {} of {pages}", index + 1));
    }
    // The table header repeats, and the totals come once, after the last line.
    assert!(texts.iter().all(|text| text.contains("UNIT PRICE")));
    assert_eq!(texts.concat().matches("Subtotal").count(), 1);
    assert!(RENDERER.render(&doc).unwrap().starts_with(b"%PDF-"));
}

#[test]
fn names_in_any_european_script_render_with_real_glyphs() {
    let mut doc = sample_document(3);
    doc.buyer.name = "Zoë Ørsted".to_owned();
    doc.buyer.company = Some("Müller GmbH".to_owned());
    doc.buyer.address_lines =
        vec!["ul. Łukasza Wójcika 7".to_owned(), "Дмитрий Иванов, Невский проспект 28".to_owned()];
    doc.buyer.country = Some("Ελλάδα".to_owned());
    doc.lines[0].description = "Hébergement — Şirket Çözümleri, Ærø".to_owned();

    let (texts, missing) = page_texts(&RENDERER.layout(&doc).unwrap());
    assert!(!missing, "a glyph is missing from the embedded fonts");
    for expected in [
        "Zoë Ørsted",
        "Müller GmbH",
        "ul. Łukasza Wójcika 7",
        "Дмитрий Иванов, Невский проспект 28",
        "Ελλάδα",
        "Hébergement — Şirket Çözümleri, Ærø",
    ] {
        assert_prints(&texts, expected);
    }
    assert!(RENDERER.render(&doc).unwrap().starts_with(b"%PDF-"));
}

#[test]
fn template_markup_in_a_value_is_printed_and_never_run() {
    let hostile = [
        r#"#import "/etc/passwd""#,
        r#"#read("/etc/passwd")"#,
        r#"#panic("boom")"#,
        r#"] #eval("1 + 1") ["#,
        "*bold* _emph_ $x^2$ <label> @ref // comment /* open",
        r#"#let doc = none"#,
        "\\ {{ }} \" ' `raw`",
    ];
    let mut doc = sample_document(3);
    doc.buyer.name = hostile[0].to_owned();
    doc.buyer.company = Some(hostile[1].to_owned());
    doc.buyer.address_lines = vec![hostile[2].to_owned(), hostile[3].to_owned()];
    doc.lines[0].description = hostile[4].to_owned();
    doc.notes = vec![hostile[5].to_owned(), hostile[6].to_owned()];
    doc.number = "#{ panic() }".to_owned();

    let (texts, _) = page_texts(&RENDERER.layout(&doc).unwrap());
    for expected in hostile.iter().chain(["#{ panic() }"].iter()) {
        assert_prints(&texts, expected);
    }
    assert!(!texts.concat().contains("root:"), "a file from the machine was read");
}

#[test]
fn a_credit_note_and_a_proforma_carry_their_own_titles() {
    let mut credit = sample_document(2);
    credit.kind = DocumentKind::CreditNote;
    credit.references = vec!["Credits invoice 2026-00012".to_owned()];
    let (texts, _) = page_texts(&RENDERER.layout(&credit).unwrap());
    assert_prints(&texts, "Credit note");
    assert_prints(&texts, "Credits invoice 2026-00012");
    assert_prints(&texts, "Total credited");

    let mut proforma = sample_document(2);
    proforma.kind = DocumentKind::Proforma;
    proforma.due_date = None;
    proforma.discount = None;
    proforma.credit_applied = None;
    proforma.tax_lines.clear();
    proforma.notes.clear();
    proforma.references.clear();
    let (texts, _) = page_texts(&RENDERER.layout(&proforma).unwrap());
    assert_prints(&texts, "Proforma invoice");
    assert!(!texts.concat().contains("Due date"));
}

#[test]
fn a_theme_template_replaces_the_built_in_layout_and_reads_its_own_files() {
    let theme = tempfile::tempdir().unwrap();
    let dir = theme.path().join("templates/documents");
    std::fs::create_dir_all(dir.join("parts")).unwrap();
    std::fs::write(
        dir.join("invoice.typ"),
        "#import \"parts/words.typ\": word\n#let doc = json(\"/document.json\")\n#word #doc.number #read(\"note.txt\")",
    )
    .unwrap();
    std::fs::write(dir.join("parts/words.typ"), "#let word = \"Rechnung\"").unwrap();
    std::fs::write(dir.join("note.txt"), "from the theme").unwrap();

    let renderer = PdfRenderer::new(Some(theme.path())).unwrap();
    let (texts, _) = page_texts(&renderer.layout(&sample_document(1)).unwrap());
    assert_prints(&texts, "Rechnung 2026-00042 from the theme");
}

#[test]
fn a_theme_template_cannot_reach_the_disk_or_packages() {
    for body in [
        "#read(\"/etc/hostname\")",
        "#read(\"../../../../../../etc/hostname\")",
        "#import \"@preview/cetz:0.4.0\"",
        "#datetime.today()",
    ] {
        let theme = tempfile::tempdir().unwrap();
        let dir = theme.path().join("templates/documents");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("invoice.typ"), body).unwrap();
        assert!(PdfRenderer::new(Some(theme.path())).is_err(), "{body} rendered");
    }
}

#[test]
fn a_broken_theme_template_fails_at_start_saying_where() {
    let theme = tempfile::tempdir().unwrap();
    let dir = theme.path().join("templates/documents");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("invoice.typ"), "#let doc = json(\"/document.json\")\n\n#doc.nubmer").unwrap();
    let err = format!("{:#}", PdfRenderer::new(Some(theme.path())).err().expect("a broken template is refused"));
    assert!(err.contains("invoice.typ:3:"), "{err}");
    assert!(err.contains("nubmer"), "{err}");
}

#[test]
fn render_pdf_renders_without_a_kept_renderer() {
    assert!(render_pdf(&sample_document(1), None).unwrap().starts_with(b"%PDF-"));
}

/// The figure itself is printed by `hostwright dev bench` on a release build; here the
/// benchmark and a renderer shared by several threads are checked to work at all.
#[test]
fn the_benchmark_counts_documents_and_one_renderer_serves_several_threads() {
    let per_second = bench(2).unwrap();
    assert!(per_second.is_finite() && per_second > 0.0, "{per_second}");
    let renderer = &*RENDERER;
    let doc = sample_document(2);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|thread| {
                let doc = &doc;
                scope.spawn(move || {
                    let mut doc = doc.clone();
                    doc.number = format!("2026-T{thread}");
                    renderer.render(&doc).unwrap()
                })
            })
            .collect();
        for worker in workers {
            assert!(worker.join().unwrap().starts_with(b"%PDF-"));
        }
    });
}

#[test]
fn awkward_documents_still_lay_out_with_every_value_printed() {
    let mut credit = sample_document(2);
    credit.kind = DocumentKind::CreditNote;
    credit.number = "CN-2026-00007".to_owned();
    credit.references = vec!["Credits invoice 2026-00012".to_owned()];
    let (texts, missing) = page_texts(&RENDERER.layout(&credit).unwrap());
    assert!(!missing);
    assert_prints(&texts, "CN-2026-00007");
    assert_prints(&texts, "Credits invoice 2026-00012");

    let mut edge = sample_document(4);
    edge.kind = DocumentKind::Proforma;
    edge.seller.name = "Internationale Rechenzentrums- und Domainverwaltungsgesellschaft mbH & Co. KG".to_owned();
    edge.buyer.company = Some("Общество с ограниченной ответственностью «Северный Хостинг Ζήτα»".to_owned());
    edge.lines[1].description = format!("Domain transfer https://{}.example/very/long/path", "a".repeat(90));
    edge.tax_lines.push(DocTaxLine {
        name: "VAT".to_owned(),
        rate: "7%".to_owned(),
        base: "12.00".to_owned(),
        amount: "0.84".to_owned(),
    });
    edge.discount = None;
    let (texts, missing) = page_texts(&RENDERER.layout(&edge).unwrap());
    assert!(!missing, "a glyph is missing");
    assert_prints(&texts, "Северный Хостинг Ζήτα");
    assert_prints(&texts, "Domainverwaltungsgesellschaft");
    assert_prints(&texts, "0.84");
    assert!(RENDERER.render(&edge).unwrap().starts_with(b"%PDF-"));
}
