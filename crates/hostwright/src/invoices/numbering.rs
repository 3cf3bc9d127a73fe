//! Gapless, strictly increasing legal numbers.
//!
//! A number is allocated inside the transaction that issues the document: the counter row
//! is incremented first (on PostgreSQL the UPDATE locks the row until commit, on SQLite the
//! write takes the database's write lock), so concurrent issuers queue, a rolled-back issue
//! gives its number back, and numbers follow the order of issue.

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};

/// A numbering pattern such as `{YYYY}-{SEQ:5}` or `INV{YY}{MM}/{SEQ}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    yearly_reset: bool,
}

impl Pattern {
    /// Checks the pattern: it must contain `{SEQ}` or `{SEQ:n}` exactly once (n from 1 to 12)
    /// and only the known tokens `{YYYY}`, `{YY}`, `{MM}`.
    pub fn parse(text: &str, yearly_reset: bool) -> Result<Pattern, &'static str> {
        let text = text.trim();
        if text.is_empty() || text.len() > 60 {
            return Err("Enter a pattern of up to 60 characters, e.g. {YYYY}-{SEQ:5}.");
        }
        let mut seq = 0;
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                return Err("A { has no matching }.");
            };
            let token = &rest[start + 1..start + len];
            match token {
                "YYYY" | "YY" | "MM" => {}
                "SEQ" => seq += 1,
                t if t.starts_with("SEQ:") => {
                    let width = t[4..].parse::<u8>().map_err(|_| "Write the width as {SEQ:5}.")?;
                    if !(1..=12).contains(&width) {
                        return Err("The {SEQ:n} width must be from 1 to 12.");
                    }
                    seq += 1;
                }
                _ => return Err("Use only {YYYY}, {YY}, {MM} and {SEQ} or {SEQ:n}."),
            }
            rest = &rest[start + len + 1..];
        }
        if seq != 1 {
            return Err("The pattern needs {SEQ} (or {SEQ:n}) exactly once.");
        }
        if yearly_reset && !text.contains("{YYYY}") && !text.contains("{YY}") {
            return Err("A yearly reset needs the year ({YYYY} or {YY}) in the pattern, or numbers would repeat.");
        }
        Ok(Pattern { text: text.to_owned(), yearly_reset })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The counter a number on `date` is drawn from.
    pub fn period(&self, date: NaiveDate) -> String {
        if self.yearly_reset { date.year().to_string() } else { "all".to_owned() }
    }

    pub fn format(&self, date: NaiveDate, seq: i64) -> String {
        let mut out = String::new();
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let len = rest[start..].find('}').unwrap_or(0);
            let token = &rest[start + 1..start + len];
            match token {
                "YYYY" => out.push_str(&format!("{:04}", date.year())),
                "YY" => out.push_str(&format!("{:02}", date.year() % 100)),
                "MM" => out.push_str(&format!("{:02}", date.month())),
                "SEQ" => out.push_str(&seq.to_string()),
                t => {
                    let width = t.strip_prefix("SEQ:").and_then(|w| w.parse::<usize>().ok()).unwrap_or(1);
                    out.push_str(&format!("{seq:0width$}"));
                }
            }
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// Takes the next value of a series for a period; call inside the issuing transaction,
/// before anything else that writes.
pub async fn next(db: &impl ConnectionTrait, series: &str, period: &str) -> Result<i64, DbErr> {
    take(db, series, period, 1).await
}

/// Takes the next `count` values of a series for a period at once and returns the first;
/// the others follow it without a gap.
pub async fn take(db: &impl ConnectionTrait, series: &str, period: &str, count: i64) -> Result<i64, DbErr> {
    let create = Query::insert()
        .into_table("number_sequences")
        .columns(["series", "period", "next_value"])
        .values_panic([series.into(), period.into(), 1_i64.into()])
        .on_conflict(OnConflict::columns(["series", "period"]).do_nothing().to_owned())
        .to_owned();
    db.execute(&create).await?;
    let bump = Query::update()
        .table("number_sequences")
        .value("next_value", Expr::col("next_value").add(count))
        .and_where(Expr::col("series").eq(series))
        .and_where(Expr::col("period").eq(period))
        .to_owned();
    db.execute(&bump).await?;
    let backend = db.get_database_backend();
    let read = Query::select()
        .column("next_value")
        .from("number_sequences")
        .and_where(Expr::col("series").eq(series))
        .and_where(Expr::col("period").eq(period))
        .to_owned();
    let row = db
        .query_one_raw(backend.build(&read))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("number series {series}/{period}")))?;
    let after: i64 = row.try_get_by_index(0)?;
    Ok(after - count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn patterns_format_year_month_and_padded_sequence() {
        let p = Pattern::parse("{YYYY}-{SEQ:5}", true).unwrap();
        assert_eq!(p.format(date(2026, 11, 22), 42), "2026-00042");
        assert_eq!(p.period(date(2026, 11, 22)), "2026");
        let p = Pattern::parse("INV{YY}{MM}/{SEQ}", false).unwrap();
        assert_eq!(p.format(date(2027, 3, 1), 7), "INV2703/7");
        assert_eq!(p.period(date(2027, 3, 1)), "all");
    }

    #[test]
    fn bad_patterns_are_explained() {
        for (text, reset) in [
            ("", false),
            ("{YYYY}", false),
            ("{SEQ}{SEQ}", false),
            ("{SEQ:0}", false),
            ("{DD}-{SEQ}", false),
            ("{SEQ}", true),
            ("{SEQ", false),
        ] {
            assert!(Pattern::parse(text, reset).is_err(), "{text:?} should be refused");
        }
    }
}
