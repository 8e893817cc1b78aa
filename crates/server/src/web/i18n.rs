//! The pages' one message catalogue (Fluent): English and Simplified Chinese. Every string a
//! page shows that is not data goes through [`Lang::t`]; the language comes from a choice the
//! person made (a cookie) or else from `Accept-Language`.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::OnceLock;
use valuetree_core::NaiveDate;

/// A language the interface is translated into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

const ENGLISH: &str = include_str!("en.ftl");
const CHINESE: &str = include_str!("zh-CN.ftl");

fn bundle(tag: &str, source: &'static str) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = tag.parse().expect("a valid language tag");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Plain text: the marks Fluent puts around arguments would show in titles and tests.
    bundle.set_use_isolating(false);
    let resource = FluentResource::try_new(source.to_string())
        .unwrap_or_else(|(_, errors)| panic!("the {tag} catalogue does not parse: {errors:?}"));
    bundle
        .add_resource(resource)
        .unwrap_or_else(|errors| panic!("the {tag} catalogue repeats messages: {errors:?}"));
    bundle
}

fn catalogue(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static ZH: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| bundle("en", ENGLISH)),
        Lang::ZhCn => ZH.get_or_init(|| bundle("zh-CN", CHINESE)),
    }
}

impl Lang {
    /// The language of a cookie value or an `Accept-Language` header: Chinese when it is
    /// preferred to English, else English.
    pub fn negotiate(chosen: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = chosen.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for range in accept_language.unwrap_or("").split(',') {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::from_tag(tag)
                && best.is_none_or(|(q, _)| quality > q)
            {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The tag for `<html lang>` and the language cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The other language (the switch in the header).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhCn,
            Lang::ZhCn => Lang::En,
        }
    }

    /// The message `id`; a missing one shows its id (a test keeps the catalogues whole).
    pub fn t(self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with arguments.
    pub fn t_with(self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        self.format(id, Some(&fluent_args))
    }

    fn format(self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = catalogue(self);
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_string();
        };
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned()
    }

    /// A date as people of the language write it.
    pub fn date(self, date: NaiveDate) -> String {
        match self {
            Lang::En => date.format("%-d %b %Y").to_string(),
            Lang::ZhCn => date.format("%Y年%-m月%-d日").to_string(),
        }
    }

    /// A number with at most `decimals` decimals, grouped by thousands.
    pub fn number(self, value: f64, decimals: usize) -> String {
        let text = format!("{value:.decimals$}");
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w.to_string(), Some(f.trim_end_matches('0').to_string())),
            None => (text.clone(), None),
        };
        let (sign, digits) = match whole.strip_prefix('-') {
            Some(d) => ("-", d.to_string()),
            None => ("", whole),
        };
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        match fraction.filter(|f| !f.is_empty()) {
            Some(f) => format!("{sign}{grouped}.{f}"),
            None => format!("{sign}{grouped}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(source: &str) -> Vec<String> {
        source
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_string()))
            .collect()
    }

    #[test]
    fn both_catalogues_have_every_message_and_parse() {
        let (en, zh) = (ids(ENGLISH), ids(CHINESE));
        assert!(en.len() > 20);
        assert_eq!(
            en, zh,
            "the catalogues name the same messages in the same order"
        );
        for id in &en {
            assert_ne!(Lang::En.t(id), *id, "{id} has no English text");
            assert_ne!(Lang::ZhCn.t(id), *id, "{id} has no Chinese text");
        }
    }

    #[test]
    fn the_language_follows_the_choice_then_the_browser() {
        assert_eq!(
            Lang::negotiate(None, Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Lang::ZhCn
        );
        assert_eq!(Lang::negotiate(None, Some("en-GB,zh;q=0.5")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("fr,zh-TW;q=0.7")), Lang::ZhCn);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
        assert_eq!(Lang::negotiate(Some("en"), Some("zh-CN")), Lang::En);
    }

    #[test]
    fn dates_and_numbers_read_as_the_language_writes_them() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).expect("a date");
        assert_eq!(Lang::En.date(day), "6 Dec 2026");
        assert_eq!(Lang::ZhCn.date(day), "2026年12月6日");
        assert_eq!(Lang::En.number(1234567.5, 2), "1,234,567.5");
        assert_eq!(Lang::En.number(-1000.0, 1), "-1,000");
        assert_eq!(
            Lang::ZhCn.t_with(
                "home-mine",
                &[("count", 3.into()), ("effort", "4.5".into())]
            ),
            "3 项贡献，投入 4.5"
        );
    }
}
