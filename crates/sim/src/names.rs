//! Believable names and titles for a simulated company, from word lists: people from a
//! deterministic mix of cultures (about two in five Chinese, written in Chinese characters as
//! an organisation in China records them), units, customer needs, objectives, initiatives,
//! deliverables, and what a contribution did.
//!
//! Everything here is a pure function of the seed and an index, with its own hash: naming
//! never draws from the simulation's random stream, so the organisation simulated (and every
//! figure measured on it) is the same with or without believable names.

/// A 64-bit mix of the seed, what is named and its index (splitmix64's finaliser).
fn mix(seed: u64, purpose: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(purpose.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(index.wrapping_mul(0x94D0_49BB_1331_11EB));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<'a>(list: &[&'a str], value: u64) -> &'a str {
    list[(value % list.len() as u64) as usize]
}

const CHINESE_FAMILY: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋",
];
const CHINESE_GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "秀英", "霞", "平", "刚", "桂英", "建华", "晓东", "丽华", "志强", "海燕", "子涵", "雨轩",
    "欣怡", "浩然", "梓萱", "俊杰", "思远", "嘉怡", "宇航", "一鸣", "文博", "佳琪", "天宇", "若曦",
    "晨阳",
];
/// Given and family names of other cultures, written as their owners write them in Latin
/// letters: (given names, family names).
const OTHER_CULTURES: [(&[&str], &[&str]); 8] = [
    (
        &[
            "Emma", "Oliver", "Grace", "James", "Chloe", "Thomas", "Lucy", "Daniel", "Hannah",
            "Samuel",
        ],
        &[
            "Smith", "Taylor", "Brown", "Wilson", "Clarke", "Walker", "Wright", "Hughes", "Martin",
            "Evans",
        ],
    ),
    (
        &[
            "Priya", "Arjun", "Ananya", "Rahul", "Kavya", "Vikram", "Meera", "Rohan", "Divya",
            "Aditya",
        ],
        &[
            "Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Singh", "Rao", "Menon", "Das",
        ],
    ),
    (
        &[
            "Lucía",
            "Mateo",
            "Sofía",
            "Diego",
            "Valentina",
            "Javier",
            "Camila",
            "Andrés",
            "Isabel",
            "Pablo",
        ],
        &[
            "García",
            "Martínez",
            "López",
            "Sánchez",
            "Romero",
            "Torres",
            "Ruiz",
            "Morales",
            "Ortega",
            "Castro",
        ],
    ),
    (
        &[
            "Yuki", "Haruto", "Aoi", "Ren", "Sakura", "Daiki", "Mei", "Kenta", "Hina", "Sota",
        ],
        &[
            "Sato",
            "Suzuki",
            "Tanaka",
            "Ito",
            "Watanabe",
            "Yamamoto",
            "Nakamura",
            "Kobayashi",
            "Kato",
            "Yoshida",
        ],
    ),
    (
        &[
            "Chinedu", "Amara", "Tunde", "Ngozi", "Kofi", "Ama", "Emeka", "Adaeze", "Kwame",
            "Zainab",
        ],
        &[
            "Okafor", "Mensah", "Adeyemi", "Okoro", "Boateng", "Eze", "Owusu", "Balogun", "Nwosu",
            "Asante",
        ],
    ),
    (
        &[
            "Lena",
            "Jonas",
            "Mia",
            "Felix",
            "Anna",
            "Lukas",
            "Clara",
            "Maximilian",
            "Sophie",
            "Paul",
        ],
        &[
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Becker",
            "Hoffmann",
            "Koch",
            "Wagner",
            "Richter",
        ],
    ),
    (
        &[
            "Layla", "Omar", "Noor", "Karim", "Yasmin", "Tariq", "Salma", "Hassan", "Rania",
            "Youssef",
        ],
        &[
            "Haddad", "Khalil", "Mansour", "Nasser", "Saleh", "Farouk", "Aziz", "Hamdan", "Rahman",
            "Qasim",
        ],
    ),
    (
        &[
            "Minh", "Linh", "Jisoo", "Minjun", "Thao", "Duc", "Seoyeon", "Hyun", "Anh", "Jiwoo",
        ],
        &[
            "Nguyen", "Tran", "Kim", "Park", "Le", "Pham", "Choi", "Jung", "Vu", "Kang",
        ],
    ),
];

/// The name of the `index`th person hired.
pub fn person_name(seed: u64, index: usize) -> String {
    let h = mix(seed, 1, index as u64);
    if h % 5 < 2 {
        format!(
            "{}{}",
            pick(&CHINESE_FAMILY, h >> 8),
            pick(&CHINESE_GIVEN, h >> 24)
        )
    } else {
        let (given, family) = OTHER_CULTURES[((h >> 4) % OTHER_CULTURES.len() as u64) as usize];
        format!("{} {}", pick(given, h >> 16), pick(family, h >> 32))
    }
}

const BUSINESS_UNITS: [&str; 16] = [
    "Consumer",
    "Merchant Services",
    "Logistics",
    "Platform",
    "Growth",
    "Payments",
    "Marketplace",
    "Data & AI",
    "Customer Care",
    "Enterprise",
    "International",
    "Trust & Safety",
    "Mobile",
    "Fulfilment",
    "Partnerships",
    "Infrastructure",
];

/// Business unit `b` of the org chart after `era` restructures: each restructure renames
/// them, as a new org chart does.
pub fn business_unit_name(b: usize, era: u32) -> String {
    let name = BUSINESS_UNITS[(b + era as usize * 5) % BUSINESS_UNITS.len()];
    match b / BUSINESS_UNITS.len() {
        0 => name.to_string(),
        n => format!("{name} {}", n + 1),
    }
}

const AREAS: [&str; 30] = [
    "Search",
    "Checkout",
    "Catalogue",
    "Pricing",
    "Recommendations",
    "Onboarding",
    "Returns",
    "Delivery",
    "Warehouse",
    "Fraud",
    "Identity",
    "Notifications",
    "Loyalty",
    "Reviews",
    "Ads",
    "Seller Tools",
    "Invoicing",
    "Refunds",
    "Routing",
    "Inventory",
    "Analytics",
    "Mobile App",
    "Web Store",
    "Support Desk",
    "Localisation",
    "Accessibility",
    "Subscriptions",
    "Promotions",
    "Payouts",
    "Messaging",
];
const FUNCTIONS: [&str; 12] = [
    "Engineering",
    "Product",
    "Design",
    "Data",
    "Operations",
    "Quality",
    "Platform",
    "Research",
    "Growth",
    "Reliability",
    "Experience",
    "Insights",
];

/// Team `index`'s name: an area and a function, unique for the first 360 teams.
pub fn team_name(index: usize) -> String {
    let area = AREAS[index % AREAS.len()];
    let function = FUNCTIONS[(index / AREAS.len()) % FUNCTIONS.len()];
    match index / (AREAS.len() * FUNCTIONS.len()) {
        0 => format!("{area} {function}"),
        n => format!("{area} {function} {}", n + 1),
    }
}

const NEEDS: [&str; 12] = [
    "Shoppers find what they want fast",
    "Paying is effortless",
    "Orders arrive when promised",
    "Sellers get paid on time",
    "Help comes in one contact",
    "Prices are fair and clear",
    "Returns take no effort",
    "Accounts stay safe",
    "The app works on any phone",
    "Businesses buy in bulk easily",
    "Everyone can use the store",
    "Shopping feels personal",
];

/// Customer need `index`.
pub fn need_title(index: usize) -> String {
    numbered(NEEDS[index % NEEDS.len()], index / NEEDS.len())
}

fn numbered(title: &str, round: usize) -> String {
    match round {
        0 => title.to_string(),
        n => format!("{title} ({})", n + 1),
    }
}

const METRICS: [&str; 20] = [
    "search abandonment",
    "checkout conversion",
    "late deliveries",
    "payout delays",
    "repeat contacts",
    "refund time",
    "fraud losses",
    "app crash rate",
    "page load time",
    "basket size",
    "seller churn",
    "return rate",
    "support cost per order",
    "first-order conversion",
    "active subscribers",
    "on-time dispatch",
    "search relevance",
    "sign-up drop-off",
    "stock-outs",
    "customer satisfaction",
];

/// Objective `index`: a metric to move by a share.
pub fn objective_title(seed: u64, index: usize) -> String {
    let h = mix(seed, 2, index as u64);
    let metric = pick(&METRICS, h);
    let by = [5, 10, 15, 20, 25, 30][((h >> 16) % 6) as usize];
    // Metrics that are costs go down; the others go up.
    let down = [
        "abandonment",
        "late",
        "delays",
        "repeat",
        "refund time",
        "fraud",
        "crash",
        "load",
        "churn",
        "return rate",
        "cost",
        "drop-off",
        "stock-outs",
    ]
    .iter()
    .any(|w| metric.contains(w));
    let verb = if down { "Cut" } else { "Lift" };
    format!("{verb} {metric} by {by}%")
}

const VERBS: [&str; 16] = [
    "Redesign",
    "Rebuild",
    "Speed up",
    "Simplify",
    "Automate",
    "Personalise",
    "Localise",
    "Harden",
    "Launch",
    "Modernise",
    "Unify",
    "Streamline",
    "Scale",
    "Open up",
    "Measure",
    "Rethink",
];
const THINGS: [&str; 30] = [
    "checkout",
    "search ranking",
    "delivery tracking",
    "seller onboarding",
    "returns",
    "fraud screening",
    "the product page",
    "order notifications",
    "loyalty rewards",
    "invoicing",
    "refunds",
    "route planning",
    "stock forecasting",
    "the help centre",
    "sign-up",
    "payouts",
    "the mobile home screen",
    "price alerts",
    "bulk ordering",
    "subscriptions",
    "reviews and ratings",
    "address entry",
    "promotions",
    "the seller dashboard",
    "warehouse picking",
    "card payments",
    "gift cards",
    "live chat",
    "recommendations",
    "accessibility of the store",
];

/// Initiative `index` (a flagpole raised bottom-up reads the same: a piece of work).
pub fn initiative_title(seed: u64, index: usize) -> String {
    let h = mix(seed, 3, index as u64);
    let verb = pick(&VERBS, h);
    let thing = pick(&THINGS, h >> 20);
    let mut title = format!("{verb} {thing}");
    if let Some(first) = title.get(..1) {
        title = first.to_uppercase() + &title[1..];
    }
    title
}

const PARTS: [&str; 16] = [
    "API",
    "data model",
    "prototype",
    "A/B test",
    "dashboard",
    "migration",
    "service",
    "mobile screens",
    "rules engine",
    "pipeline",
    "design system components",
    "load test",
    "rollout plan",
    "monitoring",
    "admin tool",
    "ranking model",
];

/// A deliverable of the initiative titled `initiative`.
pub fn deliverable_title(seed: u64, index: usize, initiative: &str) -> String {
    let h = mix(seed, 4, index as u64);
    // "Redesign checkout" → "checkout"; the deliverable names the part built for it.
    let subject = initiative
        .split_once(' ')
        .map_or(initiative, |(_, rest)| rest)
        .trim_start_matches("up ");
    let mut title = format!("{subject} {}", pick(&PARTS, h));
    if let Some(first) = title.get(..1) {
        title = first.to_uppercase() + &title[1..];
    }
    title
}

/// What a contribution in `phase` (0 discover … 4 operate) to the node titled `title` did.
pub fn contribution_description(seed: u64, index: u64, phase: usize, title: &str) -> String {
    const DID: [[&str; 3]; 5] = [
        [
            "Interviewed customers about",
            "Analysed the data behind",
            "Mapped the problem of",
        ],
        ["Designed", "Prototyped", "Wrote the design of"],
        ["Built part of", "Tested", "Fixed defects in"],
        ["Rolled out", "Trained support on", "Ran the launch of"],
        ["Kept running", "Monitored", "Improved"],
    ];
    let h = mix(seed, 5, index);
    let did = DID[phase.min(4)];
    let lower = title
        .get(..1)
        .map_or_else(String::new, |f| f.to_lowercase() + &title[1..]);
    format!("{} {lower}", did[(h % 3) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_a_mix_of_cultures_and_the_same_for_a_seed() {
        let names: Vec<String> = (0..1000).map(|i| person_name(7, i)).collect();
        assert_eq!(
            names,
            (0..1000).map(|i| person_name(7, i)).collect::<Vec<_>>()
        );
        let chinese = names
            .iter()
            .filter(|n| !n.is_ascii() && !n.contains(' '))
            .count();
        assert!(
            (300..500).contains(&chinese),
            "{chinese} Chinese names in 1000"
        );
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert!(distinct.len() > 600, "{} distinct names", distinct.len());
        assert_ne!(person_name(7, 0), person_name(8, 0));
    }

    #[test]
    fn titles_read_like_work() {
        assert_eq!(team_name(0), "Search Engineering");
        assert_eq!(team_name(360), "Search Engineering 2");
        assert_eq!(business_unit_name(1, 0), "Merchant Services");
        assert_ne!(business_unit_name(1, 0), business_unit_name(1, 1));
        let objective = objective_title(1, 3);
        assert!(
            objective.starts_with("Cut ") || objective.starts_with("Lift "),
            "{objective}"
        );
        assert!(objective.ends_with('%'), "{objective}");
        let initiative = initiative_title(1, 3);
        assert!(
            initiative.chars().next().is_some_and(char::is_uppercase),
            "{initiative}"
        );
        assert_eq!(
            deliverable_title(1, 0, "Redesign checkout"),
            format!("Checkout {}", pick(&PARTS, mix(1, 4, 0)))
        );
        assert_eq!(
            deliverable_title(1, 0, "Speed up delivery tracking")
                .split(' ')
                .next(),
            Some("Delivery")
        );
        assert!(
            contribution_description(1, 9, 0, "Redesign checkout").ends_with("redesign checkout")
        );
    }
}
