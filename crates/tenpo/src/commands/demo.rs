//! `tenpo demo`: a ready-to-try Tenpo with a demo tenant, store, location, products and an owner
//! login, printing where to go and how to sign in. `--mall` adds a demo mall: three vendors,
//! each with a warehouse, an owner login and products.

use std::time::Duration;

use catalog::product::{CreateProduct, ProductStatus};
use catalog::variant::{CreateVariant, FulfillmentType, TaxClass};
use db::Db;
use kernel::access::{Acting, Role};
use kernel::{Money, StoreRef};
use tenancy::staff::CreateStaff;
use tenancy::stores::CreateStore;
use tenancy::tenants::{CreateTenant, TenantKind};

use crate::app::{self, Parts};
use crate::config::Config;

pub const DEMO_STORE: &str = "demo";
pub const DEMO_OWNER_EMAIL: &str = "owner@demo.tenpo.test";
pub const DEMO_OWNER_PASSWORD: &str = "tenpo-demo-password";

/// Seeds the demo tenant and store unless the store exists. Idempotent.
pub async fn seed_demo(db: &Db) -> anyhow::Result<()> {
    if tenancy::stores::resolve(db, &StoreRef::Handle(DEMO_STORE.into())).await?.is_some() {
        return Ok(());
    }
    let tenant = tenancy::tenants::create_tenant(
        db,
        CreateTenant { name: "Tenpo Demo Coffee".into(), kind: TenantKind::SingleBrand, default_currency: None },
    )
    .await?;
    let store = tenancy::stores::create_store(
        db,
        tenant.id,
        CreateStore { handle: DEMO_STORE.into(), name: "Tenpo Demo Coffee".into(), default_location: Some(true) },
    )
    .await?;
    let mut tx = db.begin(tenant.id).await?;
    tenancy::staff::create_staff(
        &mut tx,
        store.id,
        Acting::Operator,
        CreateStaff {
            name: "Demo Owner".into(),
            email: Some(DEMO_OWNER_EMAIL.into()),
            login_id: Some("owner".into()),
            phone: None,
            password: DEMO_OWNER_PASSWORD.into(),
            role: Role::Owner,
            vendor_id: None,
        },
    )
    .await?;
    for product in demo_products() {
        catalog::product::create_product(&mut tx, store.id, Acting::Operator, product).await?;
    }
    checkout::settings::update(&mut tx, store.id, Acting::Operator, serde_json::from_value(demo_checkout_settings())?)
        .await?;
    let disclosures = serde_json::from_value(demo_disclosures("テンポデモコーヒー株式会社"))?;
    tenancy::disclosures::update(&mut tx, store.id, None, Acting::Operator, disclosures).await?;
    let welcome = serde_json::json!({ "code": "WELCOME10", "description": "10% off your first order",
                                      "discount_type": "percent", "percent_off_bps": 1000, "usage_limit_per_customer": 1 });
    checkout::promotions::create(&mut tx, store.id, Acting::Operator, serde_json::from_value(welcome)?).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant.id, store_id = %store.id, "demo data seeded");
    Ok(())
}

/// What a Japanese shop typically offers: 800 yen shipping, free from 5,000, more to Hokkaido
/// and Okinawa; cash on delivery with the usual fee tiers; a bank account; delivery slots.
fn demo_checkout_settings() -> serde_json::Value {
    let yen = |amount: i64| serde_json::json!({ "amount": amount, "currency": "JPY" });
    serde_json::json!({
        "shipping_flat_fee": yen(800),
        "free_shipping_threshold": yen(5000),
        "prefecture_fees": [{ "prefecture": "北海道", "fee": yen(1200) }, { "prefecture": "沖縄県", "fee": yen(1500) }],
        "cod_enabled": true,
        "cod_limit": yen(300_000),
        "cod_fee_tiers": [{ "up_to": yen(10_000), "fee": yen(330) }, { "up_to": yen(30_000), "fee": yen(440) },
                          { "up_to": yen(100_000), "fee": yen(660) }, { "up_to": yen(300_000), "fee": yen(1100) }],
        "bank_transfer_due_days": 7,
        "bank_account": { "bank_name": "テンポ銀行", "branch_name": "本店営業部", "account_type": "futsu",
                          "account_number": "1234567", "account_holder_kana": "テンポデモコーヒー" },
        "delivery_slots": [{ "code": "am", "label": "午前中" }, { "code": "14-16", "label": "14時〜16時" },
                           { "code": "16-18", "label": "16時〜18時" }, { "code": "18-21", "label": "18時〜21時" }]
    })
}

/// The demo seller's commercial disclosures (特定商取引法に基づく表記), complete and published,
/// in the terms of the demo's checkout settings.
fn demo_disclosures(seller: &str) -> serde_json::Value {
    serde_json::json!({ "published": true, "disclosures": {
        "seller_name": seller, "responsible_person": "店舗 太郎", "address": "〒150-0001 東京都渋谷区神宮前1-2-3",
        "phone": "03-1234-5678", "email": "shop@demo.tenpo.test", "price_note": "各商品ページに税込価格で表示しています。",
        "extra_charges": "送料 800円（北海道 1,200円、沖縄県 1,500円、5,000円以上で無料）、代金引換手数料 330円〜1,100円、振込手数料はお客様のご負担です。",
        "payment_methods": "銀行振込、代金引換",
        "payment_timing": "銀行振込: ご注文から7日以内にお振込みください。代金引換: 商品お受け取り時にお支払いください。",
        "delivery_timing": "ご入金確認後（代金引換はご注文後）3営業日以内に発送します。",
        "returns_policy": "商品到着後8日以内にご連絡ください。未開封の商品に限り返品をお受けします。お客様都合の返品送料はお客様のご負担です。不良品は当店負担で交換します。ご注文のキャンセルは発送前まで承ります。",
        "offer_validity": "銀行振込のご注文は、7日以内にお振込みがない場合キャンセルとなります。" } })
}

fn variant(sku: &str, yen: i64, stock: Option<i32>) -> CreateVariant {
    CreateVariant { inventory_quantity: stock, ..CreateVariant::new(sku, Money::jpy(yen)) }
}

fn reduced(v: CreateVariant) -> CreateVariant {
    CreateVariant { tax_class: Some(TaxClass::Reduced), ..v }
}

fn product(
    title: &str,
    description: &str,
    product_type: &str,
    options: &[&str],
    variants: Vec<CreateVariant>,
) -> CreateProduct {
    CreateProduct {
        title: title.into(),
        description: description.into(),
        status: Some(ProductStatus::Active),
        product_type: product_type.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        variants,
        ..Default::default()
    }
}

/// A small tea shop: food at the reduced rate, goods at the standard rate, options, a digital
/// guide, a flash-sale item, and stock that is plenty, low and gone.
fn demo_products() -> Vec<CreateProduct> {
    let with_options = |mut v: CreateVariant, values: &[&str]| {
        v.option_values = values.iter().map(|s| s.to_string()).collect();
        v
    };
    vec![
        product(
            "オーガニック緑茶 ティーバッグ",
            "静岡県産の有機緑茶をティーバッグにしました。20袋入り。",
            "お茶",
            &[],
            vec![reduced(CreateVariant {
                compare_at_price: Some(Money::jpy(1280)),
                ..variant("TEA-GREEN-20", 1080, Some(120))
            })],
        ),
        product(
            "抹茶ラテ パウダー",
            "宇治抹茶を使ったラテ用パウダー。200g。",
            "お茶",
            &[],
            vec![reduced(variant("MATCHA-LATTE-200", 1620, Some(40)))],
        ),
        product(
            "ほうじ茶 リーフ 100g",
            "香ばしく焙じた茶葉。",
            "お茶",
            &[],
            vec![reduced(variant("HOJICHA-100", 864, Some(3)))],
        ),
        product(
            "Organic Green Tea",
            "Shizuoka organic sencha, loose leaf, 100 g.",
            "Tea",
            &[],
            vec![reduced(variant("TEA-SENCHA-100", 1200, Some(50)))],
        ),
        product(
            "有田焼 湯呑み",
            "佐賀県有田町の窯元による湯呑み。",
            "器",
            &["色"],
            vec![
                with_options(variant("ARITA-CUP-AI", 3300, Some(10)), &["藍"]),
                with_options(variant("ARITA-CUP-SHIRO", 3300, Some(0)), &["白"]),
            ],
        ),
        product(
            "Tenpo Tote Bag",
            "Canvas tote for your tea shopping.",
            "Goods",
            &["Size"],
            vec![
                with_options(variant("TOTE-S", 2200, Some(30)), &["S"]),
                with_options(variant("TOTE-M", 2200, Some(30)), &["M"]),
                with_options(variant("TOTE-L", 2420, Some(2)), &["L"]),
            ],
        ),
        product("急須 常滑焼", "常滑焼の朱泥急須。", "器", &[], vec![variant("TEAPOT-TOKONAME", 5500, Some(0))]),
        product(
            "日本茶の淹れ方ガイド (PDF)",
            "温度と時間の目安をまとめたガイド。ダウンロード商品です。",
            "デジタル",
            &[],
            vec![CreateVariant { fulfillment_type: Some(FulfillmentType::Digital), ..variant("GUIDE-PDF", 550, None) }],
        ),
        product(
            "限定 新茶 2026",
            "数量限定の一番茶。お一人様2点まで。",
            "お茶",
            &[],
            vec![reduced(CreateVariant {
                is_hot: true,
                hot_limit_per_customer: Some(2),
                ..variant("SHINCHA-2026", 2980, Some(100))
            })],
        ),
    ]
}

pub const DEMO_MALL_STORE: &str = "demo-mall";
pub const DEMO_MALL_OWNER_EMAIL: &str = "owner@demo-mall.tenpo.test";

/// A vendor of the demo mall: its name, commission, warehouse, owner login and products.
struct DemoVendor {
    name: &'static str,
    key: &'static str,
    commission_bps: i32,
    registration_number: Option<&'static str>,
    warehouse: &'static str,
    products: fn() -> Vec<CreateProduct>,
}

fn demo_vendors() -> [DemoVendor; 3] {
    [
        DemoVendor {
            name: "静岡茶園",
            key: "tea",
            commission_bps: 1000,
            registration_number: Some("T7123456789012"),
            warehouse: "静岡倉庫",
            products: || {
                vec![
                    product(
                        "深蒸し煎茶 100g",
                        "静岡の深蒸し煎茶。",
                        "お茶",
                        &[],
                        vec![reduced(variant("MALL-TEA-SENCHA", 1080, Some(80)))],
                    ),
                    product(
                        "抹茶 30g",
                        "茶道用の抹茶。",
                        "お茶",
                        &[],
                        vec![reduced(variant("MALL-TEA-MATCHA", 1620, Some(40)))],
                    ),
                ]
            },
        },
        DemoVendor {
            name: "有田焼窯元",
            key: "arita",
            commission_bps: 1200,
            registration_number: None,
            warehouse: "有田窯",
            products: || {
                vec![
                    product(
                        "有田焼 湯呑み",
                        "窯元の湯呑み。",
                        "器",
                        &[],
                        vec![variant("MALL-ARITA-CUP", 3300, Some(15))],
                    ),
                    product("有田焼 急須", "窯元の急須。", "器", &[], vec![variant("MALL-ARITA-POT", 5500, Some(5))]),
                ]
            },
        },
        DemoVendor {
            name: "京都和菓子",
            key: "wagashi",
            commission_bps: 1500,
            registration_number: None,
            warehouse: "京都工房",
            products: || {
                vec![product(
                    "季節の和菓子 6個入",
                    "職人の上生菓子。",
                    "和菓子",
                    &[],
                    vec![reduced(variant("MALL-WAGASHI-6", 2160, Some(20)))],
                )]
            },
        },
    ]
}

/// A vendor's owner login in the demo mall.
pub fn demo_vendor_email(key: &str) -> String {
    format!("{key}@demo-mall.tenpo.test")
}

/// Seeds the demo mall (a mall tenant, its store, three vendors each with a warehouse, an owner
/// login and products) unless its store exists. Idempotent.
pub async fn seed_demo_mall(db: &Db) -> anyhow::Result<()> {
    if tenancy::stores::resolve(db, &StoreRef::Handle(DEMO_MALL_STORE.into())).await?.is_some() {
        return Ok(());
    }
    let tenant = tenancy::tenants::create_tenant(
        db,
        CreateTenant { name: "Tenpo Demo Mall".into(), kind: TenantKind::Mall, default_currency: None },
    )
    .await?;
    let store = tenancy::stores::create_store(
        db,
        tenant.id,
        CreateStore { handle: DEMO_MALL_STORE.into(), name: "Tenpo Demo Mall".into(), default_location: Some(false) },
    )
    .await?;
    let mut tx = db.begin(tenant.id).await?;
    let staff = |email: String, login: &str, name: &str, vendor| CreateStaff {
        name: name.into(),
        email: Some(email),
        login_id: Some(login.into()),
        phone: None,
        password: DEMO_OWNER_PASSWORD.into(),
        role: Role::Owner,
        vendor_id: vendor,
    };
    tenancy::staff::create_staff(
        &mut tx,
        store.id,
        Acting::Operator,
        staff(DEMO_MALL_OWNER_EMAIL.into(), "owner", "Mall Owner", None),
    )
    .await?;
    checkout::settings::update(&mut tx, store.id, Acting::Operator, serde_json::from_value(demo_checkout_settings())?)
        .await?;
    let disclosures = serde_json::from_value(demo_disclosures("テンポデモモール株式会社"))?;
    tenancy::disclosures::update(&mut tx, store.id, None, Acting::Operator, disclosures).await?;
    let settings = serde_json::json!({ "transfer_fee": { "amount": 250, "currency": "JPY" } });
    tenancy::mall::update_settings(&mut tx, Acting::Operator, serde_json::from_value(settings)?).await?;
    for d in demo_vendors() {
        let vendor = tenancy::vendors::create_vendor(
            &mut tx,
            Acting::Operator,
            tenancy::vendors::CreateVendor {
                name: d.name.into(),
                commission_rate_bps: d.commission_bps,
                registration_number: d.registration_number.map(str::to_string),
                bank_account: None,
            },
        )
        .await?;
        tenancy::locations::create_location(
            &mut tx,
            store.id,
            Acting::Operator,
            tenancy::locations::CreateLocation {
                code: d.key.into(),
                name: d.warehouse.into(),
                priority: Some(10),
                vendor_id: Some(Some(vendor.id)),
            },
        )
        .await?;
        let login = format!("{}-owner", d.key);
        tenancy::staff::create_staff(
            &mut tx,
            store.id,
            Acting::Operator,
            staff(demo_vendor_email(d.key), &login, d.name, Some(Some(vendor.id))),
        )
        .await?;
        for mut p in (d.products)() {
            p.vendor_id = Some(vendor.id);
            catalog::product::create_product(&mut tx, store.id, Acting::Operator, p).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant.id, store_id = %store.id, "demo mall seeded");
    Ok(())
}

fn mall_banner() -> String {
    let mut out = format!(
        "  Mall sign-in    store {DEMO_MALL_STORE:?}, login {DEMO_MALL_OWNER_EMAIL:?}, password {DEMO_OWNER_PASSWORD:?}\n"
    );
    for d in demo_vendors() {
        out.push_str(&format!(
            "  Vendor {:<8} {} ({}% commission, ships from {}): login {:?}, same password\n",
            d.key,
            d.name,
            d.commission_bps as f64 / 100.0,
            d.warehouse,
            demo_vendor_email(d.key)
        ));
    }
    out
}

pub async fn demo(mut config: Config, seed_only: bool, mall: bool) -> anyhow::Result<()> {
    let generated_token = config.operator_token.is_none();
    if generated_token {
        config.operator_token = Some(format!("op_{}", super::operator::generate_password()));
    }
    let (databases, db) = app::open_database(&config).await?;
    // whatever happens (a busy port, a signal), the pool closes and a private cluster stops
    let result = seed_and_serve(&config, &databases, &db, seed_only, mall, generated_token).await;
    db.close().await;
    databases.shutdown().await;
    result
}

async fn seed_and_serve(
    config: &Config,
    databases: &db::Databases,
    db: &Db,
    seed_only: bool,
    mall: bool,
    generated_token: bool,
) -> anyhow::Result<()> {
    seed_demo(db).await?;
    if mall {
        seed_demo_mall(db).await?;
    }
    let mall_lines = if mall { format!("\n{}", mall_banner()) } else { String::new() };
    if seed_only {
        println!("demo data is in place (store {DEMO_STORE:?}{})", if mall { ", mall \"demo-mall\"" } else { "" });
        print!("{mall_lines}");
        return Ok(());
    }
    let running = app::start(db, config, Parts { http: true, worker: true }, None).await?;
    let base = format!("http://{}", running.addr.map(|a| a.to_string()).unwrap_or_default());
    let token = config.operator_token.clone().unwrap_or_default();
    println!(
        "\n  Tenpo demo is running.\n\n  \
         Shop            {base}/shop/{DEMO_STORE}  (the storefront's pages: buy as a shopper)\n  \
         Console         {base}/console  (sign in as the owner below)\n  \
         API reference   {base}/docs\n  \
         OpenAPI         {base}/openapi.json\n  \
         Readiness       {base}/readyz\n  \
         Storefront API  {base}/store/v1/stores/{DEMO_STORE}/products\n\n  \
         Owner sign-in   store {DEMO_STORE:?}, login {DEMO_OWNER_EMAIL:?}, password {DEMO_OWNER_PASSWORD:?}\n{mall_lines}  \
         Operator token  {token}{note}\n\n  \
         Try:\n    curl -s {base}/admin/v1/auth/login -H 'content-type: application/json' \\\n      \
         -d '{{\"store\":\"{DEMO_STORE}\",\"login\":\"{DEMO_OWNER_EMAIL}\",\"password\":\"{DEMO_OWNER_PASSWORD}\"}}'\n\n  \
         Data lives in {data}. Ctrl-C stops Tenpo{pg}.\n",
        note = if generated_token { " (generated for this run; set TENPO_OPERATOR_TOKEN to fix it)" } else { "" },
        data = config.data_dir.display(),
        pg = if databases.is_private_cluster() { " and its private PostgreSQL" } else { "" },
    );
    app::run_until_signal(running, Duration::from_secs(config.http.shutdown_grace_secs)).await
}
