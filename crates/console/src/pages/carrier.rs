//! Carrier label CSVs from the order list: the selected (or else the filtered) orders'
//! shipments as Yamato B2 Cloud or Sagawa e-飛伝 send-out data, Shift_JIS, and the tracking CSV
//! the carrier's program writes back, which ships the shipments it names and reports each line.
//! The admin API's use cases (`checkout::carrier_csv::export`, `import_tracking`), called the
//! same way: a vendor's staff export and ship only their own shipments.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use checkout::carrier_csv::{self, CarrierExport, CarrierFormat, TrackingImport};
use checkout::orders::{self, OrderFilter};
use kernel::access::Acting;
use kernel::{FieldError, OrderId};
use maud::{Markup, html};

use super::query;
use crate::error::Failure;
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error};
use crate::session::{Posted, PostedParts, Signed};
use crate::{BASE, Console};

/// The largest tracking CSV the import form takes (a carrier's file is a line per parcel).
const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/orders/carrier-csv", post(export))
        .route("/orders/tracking-import", get(import_form).post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)))
}

const FORMATS: [(CarrierFormat, &str, &str); 2] = [
    (CarrierFormat::YamatoB2, "yamato_b2", "ヤマト運輸 B2クラウド"),
    (CarrierFormat::SagawaEhiden, "sagawa_ehiden", "佐川急便 e-飛伝"),
];

fn format_of(raw: &str) -> Result<CarrierFormat, Failure> {
    FORMATS.iter().find(|f| f.1 == raw).map(|f| f.0).ok_or_else(|| {
        Failure::invalid(vec![FieldError::new("format", "invalid", "must be yamato_b2 or sagawa_ehiden")])
    })
}

/// The order list's carrier buttons (inside its bulk form, whose checkboxes they send) and the
/// link to the tracking import; `filter` is the list's query, used when nothing is selected.
pub fn list_buttons(l: Lang, filter: Option<&str>, can_ship: bool) -> Markup {
    html! {
        input type="hidden" name="filter" value=(super::query_without(filter, &["cursor", "limit", "done"]));
        @for (_, value, name) in FORMATS {
            button.secondary.carrier-csv type="submit" formaction={ (BASE) "/orders/carrier-csv" } name="format" value=(value) {
                (l.t("送り状CSV", "Label CSV")) "（" (name) "）"
            }
        }
        @if can_ship {
            a.button.secondary.tracking-import href={ (BASE) "/orders/tracking-import" } { (l.t("お問い合わせ番号CSVの取り込み", "Import tracking CSV")) }
        }
        p.muted { (l.t("送り状CSVは選択した注文（選択がなければ検索条件に合う注文）の未発送の配送です。", "Label CSVs hold the waiting shipments of the selected orders (or, with none selected, of the orders the filters match).")) }
    }
}

/// The carrier's label CSV of the selected orders' waiting shipments, or of the filtered
/// orders' when none is selected, as the API's export makes it (Shift_JIS unless `encoding`
/// says otherwise). What the export refuses (an address over the carrier's fields) is shown
/// above the list.
async fn export(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form } = posted;
    let filter_raw = form.get("filter").to_string();
    let format = format_of(form.get("format"))?;
    let selected: Vec<OrderId> = form.all("order").iter().filter_map(|id| id.parse().ok()).collect();
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let only = if !selected.is_empty() {
        Some(selected)
    } else if filter_raw.trim().is_empty() {
        None
    } else {
        let filter = query::<OrderFilter>(Some(&filter_raw))?;
        Some(orders::matching_ids(&mut tx, s.ctx.store_id, by, &filter).await?)
    };
    let q = CarrierExport { format, status: None };
    let found = carrier_csv::export(&mut tx, s.ctx.store_id, by, &q, only.as_deref(), state.settings.clock.now()).await;
    tx.commit().await?;
    match found {
        Ok(csv) => super::csv_download(&csv, None, kernel::csv_file::CsvEncoding::ShiftJis, format.filename()),
        Err(e) => {
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            super::orders::list_page(&state, &s, Some(&filter_raw), Some(f)).await
        }
    }
}

async fn import_form(s: Signed) -> Result<Response, Failure> {
    Ok(import_page(&s, "yamato_b2", None, None))
}

fn import_page(s: &Signed, format: &str, report: Option<&TrackingImport>, failed: Option<&Failure>) -> Response {
    let l = s.lang;
    let body = html! {
        h1 { (l.t("お問い合わせ番号CSVの取り込み", "Import tracking numbers (CSV)")) }
        p.muted { (l.t("配送会社のソフト（B2クラウド、e-飛伝）が書き出した発行済みデータ（Shift_JISまたはUTF-8）。お客様管理番号の配送を、その伝票番号で発送済みにします。", "The issued-labels CSV the carrier's program (B2 Cloud, e-飛伝) writes (Shift_JIS or UTF-8): each row's shipment (お客様管理番号) is marked shipped with its tracking number.")) }
        @if let Some(f) = failed {
            div.problem role="alert" data-code=(f.code) {
                p { (f.message) }
                @for e in f.fields.iter().filter(|e| e.field != "file" && e.field != "format") { p { (e.field) ": " (e.message) } }
            }
        }
        @if let Some(r) = report {
            section.panel.tracking-report role="status" {
                h2 { (l.t("取り込み結果", "Import report")) }
                p { (l.t("発送済みにした配送", "Shipments marked shipped")) ": " strong data-count="shipped" { (r.shipped.len()) }
                    " · " (l.t("取り込めなかった行", "Lines not imported")) ": " strong data-count="unmatched" { (r.unmatched.len()) } }
                @if !r.shipped.is_empty() {
                    div.table-wrap {
                        table.responsive.tracking-shipped {
                            thead { tr { th { (l.t("行", "Line")) } th { (l.t("お客様管理番号", "Reference")) } th { (l.t("お問い合わせ番号", "Tracking no.")) } } }
                            tbody {
                                @for row in &r.shipped {
                                    tr data-reference=(row.reference) {
                                        td data-label=(l.t("行", "Line")) { (row.line) }
                                        td data-label=(l.t("お客様管理番号", "Reference")) { a href={ (BASE) "/orders/" (row.order_id) } { (row.reference) } }
                                        td data-label=(l.t("お問い合わせ番号", "Tracking no.")) { (row.tracking_no) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !r.unmatched.is_empty() {
                    h3 { (l.t("取り込めなかった行", "Lines not imported")) }
                    div.table-wrap {
                        table.responsive.tracking-unmatched {
                            thead { tr { th { (l.t("行", "Line")) } th { (l.t("お客様管理番号", "Reference")) } th { (l.t("お問い合わせ番号", "Tracking no.")) } th { (l.t("理由", "Reason")) } } }
                            tbody {
                                @for row in &r.unmatched {
                                    tr data-line=(row.line) {
                                        td data-label=(l.t("行", "Line")) { (row.line) }
                                        td data-label=(l.t("お客様管理番号", "Reference")) { (row.reference) }
                                        td data-label=(l.t("お問い合わせ番号", "Tracking no.")) { (row.tracking_no) }
                                        td.reason data-label=(l.t("理由", "Reason")) { (row.reason) }
                                    }
                                }
                            }
                        }
                    }
                }
                p { a href={ (BASE) "/orders" } { (l.t("注文一覧へ", "To the orders")) } }
            }
        }
        form.tracking-import method="post" action={ (BASE) "/orders/tracking-import" } enctype="multipart/form-data" {
            (csrf(&s.csrf()))
            div {
                label for="format" { (l.t("配送会社のソフト", "Carrier program")) }
                select #format name="format" {
                    @for (_, value, name) in FORMATS { option value=(value) selected[format == value] { (name) } }
                }
                (field_error(failed, "format"))
            }
            div {
                label for="file" { (l.t("CSVファイル", "CSV file")) }
                input #file type="file" name="file" accept=".csv,text/csv";
                (field_error(failed, "file"))
            }
            div.actions { button type="submit" { (l.t("取り込む", "Import")) } }
        }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/orders", l.t("お問い合わせ番号CSVの取り込み", "Import tracking CSV"), body, status)
}

/// Ships each shipment the file names (one transaction: the API's import), then shows the
/// report: the shipped lines and every other line with its reason. A file that is no tracking
/// CSV is the API's message at the file input, and nothing shipped.
async fn import(State(state): State<Console>, posted: PostedParts) -> Result<Response, Failure> {
    let s = &posted.signed;
    let format_text = posted.text("format");
    let format = match format_of(&format_text) {
        Ok(f) => f,
        Err(f) => return Ok(import_page(s, &format_text, None, Some(&f))),
    };
    let Some(file) = posted.file("file") else {
        let f = Failure::invalid(vec![FieldError::new("file", "required", "choose a CSV file")]);
        return Ok(import_page(s, &format_text, None, Some(&f)));
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    match carrier_csv::import_tracking(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), format, &file.data).await {
        Ok(report) => {
            tx.commit().await?;
            Ok(import_page(s, &format_text, Some(&report), None))
        }
        Err(e) => {
            tx.rollback().await?;
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            Ok(import_page(s, &format_text, None, Some(&f)))
        }
    }
}
