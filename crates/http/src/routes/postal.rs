//! `/store/v1/postal-codes/{postal_code}`: Japan Post's places for a postal code (住所自動入力), from the
//! table in use (crates/postal: compiled in, or the one `tenpo postal update` loaded).

use axum::Json;
use axum::http::StatusCode;
use kernel::jp::{self, Prefecture};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::ApiPath;
use crate::problem::{ApiError, ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(lookup))
}

/// Every place a postal code covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostalCodeAnswer {
    /// `150-0001`.
    #[schema(example = "150-0001")]
    pub postal_code: String,
    /// In Japan Post's order; several towns often, two prefectures rarely (498-0000).
    pub candidates: Vec<PostalPlace>,
}

/// One place as Japan Post names it. `town` is empty where the code covers the whole city.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostalPlace {
    #[schema(example = "東京都")]
    pub prefecture: String,
    /// JIS X 0401, 1 to 47.
    #[schema(example = 13)]
    pub prefecture_code: u8,
    #[schema(example = "トウキョウト")]
    pub prefecture_kana: String,
    #[schema(example = "渋谷区")]
    pub city: String,
    #[schema(example = "シブヤク")]
    pub city_kana: String,
    #[schema(example = "神宮前")]
    pub town: String,
    #[schema(example = "ジングウマエ")]
    pub town_kana: String,
}

/// The places of a postal code (`1500001`, `150-0001`, full-width digits, a leading 〒).
#[utoipa::path(get, path = "/store/v1/postal-codes/{postal_code}", tag = "storefront",
    responses((status = 200, body = PostalCodeAnswer),
              (status = 400, body = ProblemBody, description = "postal_code_invalid: not 7 digits"),
              (status = 404, body = ProblemBody, description = "postal_code_not_found: no such Japan Post code")))]
async fn lookup(ApiPath(code): ApiPath<String>) -> ApiResult<Json<PostalCodeAnswer>> {
    let code = jp::normalize_postal_code(&code)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "postal_code_invalid", e.to_string()))?;
    let places = postal::lookup(&code);
    if places.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "postal_code_not_found",
            format!("{code} is not a Japan Post postal code"),
        ));
    }
    let candidates = places
        .into_iter()
        .map(|p| PostalPlace {
            prefecture: Prefecture::from_code(p.prefecture_code).map(|p| p.name).unwrap_or_default().to_string(),
            prefecture_code: p.prefecture_code,
            prefecture_kana: postal::prefecture_kana(p.prefecture_code).to_string(),
            city: p.city,
            city_kana: p.city_kana,
            town: p.town,
            town_kana: p.town_kana,
        })
        .collect();
    Ok(Json(PostalCodeAnswer { postal_code: code, candidates }))
}
