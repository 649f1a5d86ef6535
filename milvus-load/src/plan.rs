//! What a load will do, decided before anything is written: from the
//! input's schema, what the target server holds and can hold, and the
//! operator's options, to the collection created, appended to, upserted,
//! replaced or resumed, or a refusal naming why. Pure: no server, no I/O
//! ([`crate::load::run`] gathers the facts and executes the plan).

use anyhow::{anyhow, Result};
use pipes_cli::Exit;
use record_stream::header::{CollectionSpec, FieldSpec, Scope};
use record_stream::layout;
use serde::Serialize;

use crate::import::ImportWhen;
use crate::load::IfExists;
use crate::schema::{fill_missing_params, ServerCaps};

/// The collection property that lets an auto-id key take given ids.
pub const ALLOW_INSERT_AUTO_ID: &str = "allow_insert_auto_id";

/// What a load does to its target collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It does not exist: created, filled, indexed.
    Create,
    /// It exists: rows inserted.
    Append,
    /// It exists: rows upserted (same primary key: replaced).
    Upsert,
    /// It exists: a copy is loaded beside it, verified, then swapped in.
    Replace,
    /// An interrupted load of the same set created it: the missing rows.
    Resume,
}

impl Action {
    /// Whether the load creates the collection its rows go into.
    pub fn creates(self) -> bool {
        matches!(self, Action::Create | Action::Replace)
    }

    /// The action's name in plans and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Append => "append",
            Action::Upsert => "upsert",
            Action::Replace => "replace",
            Action::Resume => "resume",
        }
    }
}

/// How the rows reach the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowsVia {
    /// Read by this process and sent in insert (or upsert) requests.
    Insert,
    /// Read by the server's data nodes from its own storage (Import).
    Import,
}

/// What the target server holds and can hold, as far as a plan needs.
#[derive(Clone, Debug)]
pub struct TargetServer {
    /// Whether the target collection exists.
    pub exists: bool,
    /// The load marks on the target (read for `--resume` only).
    pub marks: Vec<String>,
    /// What the server supports.
    pub caps: ServerCaps,
    /// Whether it has Import (asked only when `--import` is given).
    pub has_import: bool,
}

/// The input, as a plan needs it.
#[derive(Clone, Debug)]
pub struct Source {
    /// The collection's schema (the header's, or the existing collection's
    /// for headerless input).
    pub spec: CollectionSpec,
    /// What the stream holds of it.
    pub scope: Scope,
    /// For a backup set: the mark a load of it puts on what it creates.
    pub set_mark: Option<String>,
    /// Why the input's files cannot be handed to Import as they are (a
    /// stream, JSONL parts), if they cannot.
    pub import_blocker: Option<String>,
}

/// The operator's choices a plan depends on.
#[derive(Clone, Debug, Default)]
pub struct Choices {
    /// `--if-exists`.
    pub if_exists: IfExists,
    /// `--resume`.
    pub resume: bool,
    /// `--new-ids`.
    pub new_ids: bool,
    /// `--index-fallback`.
    pub index_fallback: Option<String>,
    /// `--import[=auto]`.
    pub import: Option<ImportWhen>,
}

/// A load, decided.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// What is done to the target.
    #[serde(rename = "mode")]
    pub action: Action,
    /// The collection the operator names.
    #[serde(rename = "collection")]
    pub target: String,
    /// Where the rows go: the target, or for `replace` a temporary collection.
    pub load_into: String,
    /// The schema created (index types substituted, missing parameters filled).
    #[serde(skip)]
    pub spec: CollectionSpec,
    /// The columns sent.
    #[serde(rename = "fields", serialize_with = "field_names")]
    pub send: Vec<FieldSpec>,
    /// Stream fields not sent (new auto-ids, function outputs).
    #[serde(rename = "skipped_fields")]
    pub skip: Vec<String>,
    /// Partitions created besides `_default`.
    pub partitions: Vec<String>,
    /// How the rows get in.
    pub rows_via: RowsVia,
    /// The mark put on the created collection while the load runs.
    #[serde(skip)]
    pub mark: Option<String>,
    /// Whether the created collection takes the dumped auto-ids for the
    /// load (the property is removed afterwards).
    #[serde(skip)]
    pub allow_ids_for_the_load: bool,
    /// Things the operator should know.
    pub warnings: Vec<String>,
}

fn field_names<S: serde::Serializer>(fields: &[FieldSpec], out: S) -> Result<S::Ok, S::Error> {
    out.collect_seq(fields.iter().map(|f| &f.name))
}

/// Decides the load of `source` into `target` on `server`, or refuses it.
pub fn plan(
    target: &str,
    source: Source,
    server: &TargetServer,
    options: &Choices,
) -> Result<Plan> {
    let Source {
        mut spec,
        scope,
        set_mark,
        import_blocker,
    } = source;
    let action = match (server.exists, options.if_exists) {
        (false, _) => Action::Create,
        (true, _) if options.resume && set_mark.is_some() => Action::Resume,
        (true, IfExists::Fail) => {
            return Err(Exit::Refused.because(anyhow!(
                "collection {target:?} already exists: choose --if-exists append, upsert or replace"
            )))
        }
        (true, IfExists::Append) => Action::Append,
        (true, IfExists::Upsert) => Action::Upsert,
        (true, IfExists::Replace) => Action::Replace,
    };
    if action == Action::Resume {
        check_resumable(target, set_mark.as_deref(), &server.marks, options)?;
    }
    let caps = &server.caps;
    let creating = action.creates();
    if creating {
        caps.check(&spec).map_err(|e| Exit::Refused.because(e))?;
    }
    let pk = spec.primary_key()?;
    // Keeping the dumped ids of an auto-id key takes the server's
    // `allow_insert_auto_id`, set for the load and removed afterwards.
    let keep_auto_ids = pk.auto_id && !options.new_ids;
    if creating && keep_auto_ids && !caps.insert_auto_id {
        return Err(Exit::Refused.because(anyhow!(
            "primary key {:?} is auto-id and the target server ({}) cannot insert given ids into \
             an auto-id collection: --new-ids lets Milvus assign new ones (references to the old ids break)",
            pk.name,
            caps.name
        )));
    }
    let allow_ids_for_the_load =
        creating && keep_auto_ids && !spec.properties.contains_key(ALLOW_INSERT_AUTO_ID);
    let (send, skip) = columns(&spec, &scope, options.new_ids);
    let load_into = if action == Action::Replace {
        format!("{target}__milvus_load_{}", std::process::id())
    } else {
        target.to_string()
    };
    let mut warnings = Vec::new();
    if creating {
        warnings.extend(
            caps.substitute_indexes(&mut spec, options.index_fallback.as_deref())
                .map_err(|e| Exit::Refused.because(e))?,
        );
        warnings.extend(fill_missing_params(&mut spec));
    }
    let partitions: Vec<String> = if spec.fields.iter().any(|f| f.is_partition_key) {
        Vec::new()
    } else {
        spec.partitions
            .iter()
            .filter(|p| *p != "_default")
            .cloned()
            .collect()
    };
    if !partitions.is_empty() && !scope.row_partitions {
        warnings.push(format!(
            "partitions {partitions:?} are recreated, but this stream does not record which partition a row was in: every row goes to _default"
        ));
    }
    let import_blocker =
        import_blocker.or_else(|| import_blocker_of_load(action, &skip, keep_auto_ids, server));
    let rows_via = match (options.import, import_blocker) {
        (None, _) => RowsVia::Insert,
        (Some(_), None) => RowsVia::Import,
        (Some(ImportWhen::Always), Some(why)) => {
            return Err(Exit::Refused.because(anyhow!(
                "--import: {why}; nothing created (--import=auto inserts instead)"
            )))
        }
        (Some(ImportWhen::Auto), Some(why)) => {
            warnings.push(format!("not imported: {why}; inserting instead"));
            RowsVia::Insert
        }
    };
    Ok(Plan {
        action,
        target: target.to_string(),
        load_into,
        spec,
        send,
        skip,
        partitions,
        rows_via,
        mark: set_mark.filter(|_| creating || action == Action::Resume),
        allow_ids_for_the_load,
        warnings,
    })
}

/// Why this load cannot go through Import, if it cannot: what the server
/// lacks, or what the importer would have to do that only inserts can.
fn import_blocker_of_load(
    action: Action,
    skip: &[String],
    keep_auto_ids: bool,
    server: &TargetServer,
) -> Option<String> {
    if !server.has_import {
        return Some(format!(
            "the target server ({}) has no Import",
            server.caps.name
        ));
    }
    if action == Action::Upsert {
        return Some("Import only adds rows; --if-exists upsert replaces them".into());
    }
    if keep_auto_ids {
        return Some(
            "the primary key is auto-id: Import would assign new keys and cannot keep the dumped ones"
                .into(),
        );
    }
    if !skip.is_empty() {
        return Some(format!(
            "fields {skip:?} are not restored, and Import reads every column of a file"
        ));
    }
    None
}

/// `--resume` continues only into a collection carrying this set's mark,
/// and only when the rows keep their keys.
fn check_resumable(
    target: &str,
    set_mark: Option<&str>,
    marks: &[String],
    options: &Choices,
) -> Result<()> {
    if options.new_ids {
        return Err(Exit::Refused.because(anyhow!(
            "--resume cannot tell which rows are loaded when --new-ids gives them new keys: drop {target:?} and load again"
        )));
    }
    if marks.iter().any(|m| Some(m.as_str()) == set_mark) {
        return Ok(());
    }
    let why = if marks.is_empty() {
        "no load of this set was interrupted there (it was not created by one, or that load completed)"
    } else {
        "it is marked by an unfinished load of another set"
    };
    Err(Exit::Refused.because(anyhow!(
        "--resume: {target:?} is not an unfinished load of this set: {why}; nothing touched. \
         Load into a new collection with -c NEW_NAME, or add the rows with --if-exists append or upsert"
    )))
}

/// The columns a restore sends, and the stream fields it skips.
fn columns(spec: &CollectionSpec, scope: &Scope, new_ids: bool) -> (Vec<FieldSpec>, Vec<String>) {
    let mut send = Vec::new();
    let mut skip = Vec::new();
    for field in layout::stream_fields(spec, scope) {
        if field.is_primary_key && field.auto_id && new_ids {
            skip.push(field.name.clone());
        } else {
            send.push(field.clone());
        }
    }
    for field in spec.fields.iter().filter(|f| f.is_function_output) {
        skip.push(field.name.clone());
    }
    (send, skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use record_stream::header::FieldSpec;
    use record_stream::test_support::{field, header};

    fn spec() -> CollectionSpec {
        let id = FieldSpec {
            is_primary_key: true,
            ..field("id", "Int64", &[])
        };
        let mut spec = header(vec![id, field("v", "FloatVector", &[("dim", "4")])]).collection;
        spec.partitions = vec!["_default".into(), "eu".into()];
        spec
    }

    fn source() -> Source {
        Source {
            spec: spec(),
            scope: Scope::default(),
            set_mark: Some("mark".into()),
            import_blocker: None,
        }
    }

    fn server(exists: bool, version: &str) -> TargetServer {
        TargetServer {
            exists,
            marks: Vec::new(),
            caps: ServerCaps::for_version(Some(version)),
            has_import: version == "v2.3.5",
        }
    }

    fn refusal(result: Result<Plan>) -> (Exit, String) {
        let error = result.expect_err("refused");
        (pipes_cli::exit::for_error(&error), format!("{error:#}"))
    }

    #[test]
    fn a_new_collection_is_created_with_its_partitions_and_the_set_mark() {
        let plan = plan(
            "docs",
            source(),
            &server(false, "v2.6.0"),
            &Choices::default(),
        )
        .unwrap();
        assert_eq!(plan.action, Action::Create);
        assert_eq!(plan.load_into, "docs");
        assert_eq!(plan.mark.as_deref(), Some("mark"));
        assert_eq!(plan.partitions, ["eu"]);
        // The stream does not say which partition a row was in.
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.contains("every row goes to _default")));
        let names: Vec<&str> = plan.send.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "v"]);
    }

    #[test]
    fn an_existing_collection_is_refused_unless_the_operator_says_what_to_do() {
        let (exit, why) = refusal(plan(
            "docs",
            source(),
            &server(true, "v2.6.0"),
            &Choices::default(),
        ));
        assert_eq!(exit, Exit::Refused);
        assert!(why.contains("already exists"), "{why}");
        for (if_exists, action) in [
            (IfExists::Append, Action::Append),
            (IfExists::Upsert, Action::Upsert),
            (IfExists::Replace, Action::Replace),
        ] {
            let choices = Choices {
                if_exists,
                ..Choices::default()
            };
            let plan = plan("docs", source(), &server(true, "v2.6.0"), &choices).unwrap();
            assert_eq!(plan.action, action);
            assert_eq!(plan.action.creates(), action == Action::Replace);
            // Only what this load creates is marked.
            assert_eq!(plan.mark.is_some(), action == Action::Replace);
            assert_eq!(plan.load_into == "docs", action != Action::Replace);
        }
    }

    #[test]
    fn resume_continues_only_a_collection_this_set_marked() {
        let choices = Choices {
            resume: true,
            ..Choices::default()
        };
        let mut target = server(true, "v2.6.0");
        let (exit, why) = refusal(plan("docs", source(), &target, &choices));
        assert_eq!(exit, Exit::Refused);
        assert!(why.contains("no load of this set was interrupted"), "{why}");
        target.marks = vec!["another".into()];
        let (_, why) = refusal(plan("docs", source(), &target, &choices));
        assert!(why.contains("another set"), "{why}");
        target.marks.push("mark".into());
        let resumed = plan("docs", source(), &target, &choices).unwrap();
        assert_eq!(resumed.action, Action::Resume);
        let new_ids = Choices {
            new_ids: true,
            ..choices.clone()
        };
        assert_eq!(
            refusal(plan("docs", source(), &target, &new_ids)).0,
            Exit::Refused
        );
        // Nothing to resume where nothing exists: created.
        let created = plan("docs", source(), &server(false, "v2.6.0"), &choices).unwrap();
        assert_eq!(created.action, Action::Create);
    }

    #[test]
    fn what_the_target_server_cannot_hold_is_refused_before_anything_is_written() {
        let mut sparse = source();
        sparse
            .spec
            .fields
            .push(field("s", "SparseFloatVector", &[]));
        let (exit, why) = refusal(plan(
            "docs",
            sparse,
            &server(false, "v2.3.5"),
            &Choices::default(),
        ));
        assert_eq!(exit, Exit::Refused);
        assert!(why.contains("\"s\""), "{why}");

        let mut auto_id = source();
        auto_id.spec.fields[0].auto_id = true;
        let (exit, why) = refusal(plan(
            "docs",
            auto_id.clone(),
            &server(false, "v2.3.5"),
            &Choices::default(),
        ));
        assert_eq!(exit, Exit::Refused);
        assert!(why.contains("--new-ids"), "{why}");
        let new_ids = Choices {
            new_ids: true,
            ..Choices::default()
        };
        let plan = plan("docs", auto_id, &server(false, "v2.3.5"), &new_ids).unwrap();
        assert_eq!(plan.skip, ["id"]);
        assert!(!plan.allow_ids_for_the_load);
    }

    #[test]
    fn import_is_planned_only_where_the_server_and_the_set_allow_it() {
        let import = |when| Choices {
            import: Some(when),
            ..Choices::default()
        };
        let mut plain = source();
        plain.spec.partitions = vec!["_default".into()];
        let imported = plan(
            "docs",
            plain.clone(),
            &server(false, "v2.3.5"),
            &import(ImportWhen::Always),
        )
        .unwrap();
        assert_eq!(imported.rows_via, RowsVia::Import);
        let inserted = plan(
            "docs",
            plain.clone(),
            &server(false, "v2.3.5"),
            &Choices::default(),
        )
        .unwrap();
        assert_eq!(inserted.rows_via, RowsVia::Insert);

        // Refused with --import, inserted with a warning with --import=auto.
        let mut jsonl = plain.clone();
        jsonl.import_blocker = Some("its parts are JSONL".into());
        let mut auto_id = plain.clone();
        auto_id.spec.fields[0].auto_id = true;
        let upsert = Choices {
            if_exists: IfExists::Upsert,
            ..import(ImportWhen::Always)
        };
        let cases = [
            (
                plain.clone(),
                server(false, "v2.6.0"),
                import(ImportWhen::Always),
                "has no Import",
            ),
            (
                jsonl,
                server(false, "v2.3.5"),
                import(ImportWhen::Always),
                "JSONL",
            ),
            (
                auto_id,
                server(false, "v2.3.5"),
                Choices {
                    new_ids: true,
                    ..import(ImportWhen::Always)
                },
                "\"id\"",
            ),
            (plain, server(true, "v2.3.5"), upsert, "upsert"),
        ];
        for (source, target, choices, said) in cases {
            let (exit, why) = refusal(plan("docs", source.clone(), &target, &choices));
            assert_eq!(exit, Exit::Refused, "{why}");
            assert!(
                why.contains(said) && why.contains("nothing created"),
                "{why}"
            );
            let auto = Choices {
                import: Some(ImportWhen::Auto),
                ..choices
            };
            let fallback = plan("docs", source, &target, &auto).unwrap();
            assert_eq!(fallback.rows_via, RowsVia::Insert);
            assert!(
                fallback
                    .warnings
                    .iter()
                    .any(|w| w.contains(said) && w.contains("inserting instead")),
                "{:?}",
                fallback.warnings
            );
        }
    }
}
