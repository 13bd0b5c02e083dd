//! The portal's two languages, Norwegian Bokmål (the default) and English, from the Fluent
//! files in `web/locales/<lang>/*.ftl`, embedded in the binary at build time.
//!
//! `Accept-Language` (RFC 9110 section 12.5.4) is read by hand in
//! [`Lang::from_accept_language`], on purpose: with two languages the rule is "the supported
//! primary subtag with the highest q-value; nb, nn and no are Bokmål", fifteen lines with
//! tests. The parser already in the tree (`fluent-langneg`, through `fluent-templates`) keeps
//! the header's order and drops the q-values, and the small `accept-language` crates would add
//! a dependency for the same fifteen lines; neither is better here.

pub mod reasons;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./web/locales",
        fallback_language: "nb",
        // Bidi isolation marks around arguments would end up inside attribute values and
        // tests' text matching; both languages run left to right.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A portal language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Nb,
    En,
}

static NB: LazyLock<LanguageIdentifier> = LazyLock::new(|| langid("nb"));
static EN: LazyLock<LanguageIdentifier> = LazyLock::new(|| langid("en"));

fn langid(tag: &str) -> LanguageIdentifier {
    tag.parse().unwrap_or_default()
}

impl Lang {
    /// `nb` or `en`: the `lang` attribute and the cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "nb" | "no" | "nn" | "nb-no" | "nn-no" | "no-no" => Some(Lang::Nb),
            "en" | "en-gb" | "en-us" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch in the page header.
    pub fn other(self) -> Lang {
        match self {
            Lang::Nb => Lang::En,
            Lang::En => Lang::Nb,
        }
    }

    /// The first supported language of an `Accept-Language` header, by its q-values;
    /// Norwegian (nb, nn, no) counts as Bokmål.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0_f32);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::parse(primary) else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Nb => &NB,
            Lang::En => &EN,
        }
    }

    /// The message `key`, or the key itself when no language has it (a test checks that
    /// every key exists in both).
    pub fn t(self, key: &str) -> String {
        LOCALES
            .try_lookup(self.id(), key)
            .unwrap_or_else(|| key.to_owned())
    }

    /// The message `key` with arguments.
    pub fn t_args(self, key: &str, args: &[(&str, Arg)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'static>> = args
            .iter()
            .map(|(name, value)| {
                let v = match value {
                    Arg::Text(s) => FluentValue::from(s.clone()),
                    Arg::Number(n) => FluentValue::from(*n),
                };
                (Cow::Owned((*name).to_owned()), v)
            })
            .collect();
        LOCALES
            .try_lookup_with_args(self.id(), key, &map)
            .unwrap_or_else(|| key.to_owned())
    }
}

/// A Fluent argument.
#[derive(Clone, Debug)]
pub enum Arg {
    Text(String),
    Number(i64),
}

/// What can be a Fluent argument: text and whole numbers, by value or by reference (askama
/// passes template values by reference).
pub trait ToArg {
    fn to_arg(&self) -> Arg;
}

impl ToArg for Arg {
    fn to_arg(&self) -> Arg {
        self.clone()
    }
}

impl ToArg for str {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.to_owned())
    }
}

impl ToArg for String {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.clone())
    }
}

macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Arg {
                Arg::Number(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
number_arg!(i64, i32, u32, u64, usize);

impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg {
        (**self).to_arg()
    }
}

impl<T: ToArg + ?Sized> From<&T> for Arg {
    fn from(v: &T) -> Self {
        v.to_arg()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// Each message's key and the variables its text uses.
    fn messages(lang: &str) -> BTreeMap<String, Vec<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("web/locales")
            .join(lang);
        let mut messages: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "ftl") {
                continue;
            }
            let mut current: Option<String> = None;
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Some((key, _)) = line.split_once(" =")
                    && !key.is_empty()
                    && !key.starts_with([' ', '#', '.', '-', '*', '['])
                {
                    let key = key.trim().to_owned();
                    assert!(
                        messages.insert(key.clone(), Vec::new()).is_none(),
                        "{key} is defined twice in {lang}"
                    );
                    current = Some(key);
                }
                if line.starts_with('#') {
                    continue;
                }
                if let Some(key) = &current {
                    let vars = messages.get_mut(key).unwrap();
                    for part in line.split('$').skip(1) {
                        let name: String = part
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                            .collect();
                        if !name.is_empty() && !vars.contains(&name) {
                            vars.push(name);
                        }
                    }
                }
            }
        }
        messages
    }

    #[test]
    fn both_languages_have_every_message() {
        let nb = messages("nb");
        let en = messages("en");
        assert!(nb.len() > 20, "messages found: {}", nb.len());
        let nb_keys: BTreeSet<_> = nb.keys().collect();
        let en_keys: BTreeSet<_> = en.keys().collect();
        let only_nb: Vec<_> = nb_keys.difference(&en_keys).collect();
        let only_en: Vec<_> = en_keys.difference(&nb_keys).collect();
        assert!(only_nb.is_empty(), "missing in English: {only_nb:?}");
        assert!(only_en.is_empty(), "missing in Bokmål: {only_en:?}");
        for (lang, all) in [(Lang::Nb, &nb), (Lang::En, &en)] {
            for (key, vars) in all {
                let args: Vec<(&str, Arg)> =
                    vars.iter().map(|v| (v.as_str(), Arg::Number(2))).collect();
                let text = lang.t_args(key, &args);
                assert_ne!(text, *key, "{key} does not resolve in {lang:?}");
                assert!(!text.contains('$'), "{key} in {lang:?}: {text}");
            }
        }
    }

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("de, en;q=0.5, nb;q=0.8"),
            Some(Lang::Nb)
        );
        assert_eq!(Lang::from_accept_language("nn-NO"), Some(Lang::Nb));
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }

    #[test]
    fn arguments_fill_messages() {
        let text = Lang::En.t_args("rooms-found", &[("count", 2_i64.to_arg())]);
        assert!(text.contains('2'), "{text}");
    }
}
