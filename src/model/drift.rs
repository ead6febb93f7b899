//! Drift as data: the kinds of change between a pinned and a received exchange, a labelled
//! change, and the policy that says which kinds fail a case.

/// What kind of change a drift label names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    FieldAdded,
    FieldRemoved,
    TypeChanged,
    /// A new value in a field that holds one of a fixed set (finish_reason, object, role,
    /// error.type, error.code, an event name).
    EnumChanged,
    StatusChanged,
    ContentTypeChanged,
    HeaderAdded,
    HeaderRemoved,
    /// Any other value changed (an error message's wording, say).
    ValueChanged,
}

impl LabelKind {
    pub const ALL: [LabelKind; 9] = [
        LabelKind::FieldAdded,
        LabelKind::FieldRemoved,
        LabelKind::TypeChanged,
        LabelKind::EnumChanged,
        LabelKind::StatusChanged,
        LabelKind::ContentTypeChanged,
        LabelKind::HeaderAdded,
        LabelKind::HeaderRemoved,
        LabelKind::ValueChanged,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            LabelKind::FieldAdded => "field added",
            LabelKind::FieldRemoved => "field removed",
            LabelKind::TypeChanged => "type changed",
            LabelKind::EnumChanged => "new enum value",
            LabelKind::StatusChanged => "status changed",
            LabelKind::ContentTypeChanged => "content type changed",
            LabelKind::HeaderAdded => "header added",
            LabelKind::HeaderRemoved => "header removed",
            LabelKind::ValueChanged => "value changed",
        }
    }
}

/// One labelled change between the pinned and the received exchange.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    pub kind: LabelKind,
    /// JSON pointer into the canonical document (`/body/choices/0/finish_reason`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Whether the drift policy fails the case for it.
    pub fails: bool,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::util::text::Visible as V;
        write!(f, "{} {}", self.kind.describe(), V(&self.path))?;
        match (&self.from, &self.to) {
            (Some(a), Some(b)) => write!(f, ": {} → {}", V(a), V(b)),
            (None, Some(b)) => write!(f, ": {}", V(b)),
            (Some(a), None) => write!(f, " (was {})", V(a)),
            (None, None) => Ok(()),
        }
    }
}

/// Which kinds of drift fail a case; the rest are reported and pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftPolicy {
    pub fail_on: Vec<LabelKind>,
}

impl Default for DriftPolicy {
    /// Removals, type, status, enum and content-type changes fail; additions, header changes and
    /// other value changes are reported.
    fn default() -> Self {
        DriftPolicy {
            fail_on: vec![
                LabelKind::FieldRemoved,
                LabelKind::TypeChanged,
                LabelKind::EnumChanged,
                LabelKind::StatusChanged,
                LabelKind::ContentTypeChanged,
            ],
        }
    }
}

impl DriftPolicy {
    /// Every kind fails (`--strict`).
    pub fn strict() -> Self {
        DriftPolicy {
            fail_on: LabelKind::ALL.to_vec(),
        }
    }
}
