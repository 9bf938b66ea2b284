//! Reading the SAM template (`template.yaml`): the single source of truth for the local stack.
//!
//! The YAML is normalised into JSON with CloudFormation's long intrinsic forms (`!Ref X` becomes
//! `{"Ref": "X"}`, `!Sub s` becomes `{"Fn::Sub": s}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`),
//! then evaluated against a [`Resolver`] that knows the parameters, the pseudo parameters and the
//! physical names of the resources provisioned so far.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value as Json};

/// Region the local stack pretends to run in.
pub const REGION: &str = "eu-north-1";
/// moto's default account id.
pub const ACCOUNT_ID: &str = "123456789012";
/// The stage an HTTP API serves at the root of its URL (no path prefix).
pub const DEFAULT_STAGE: &str = "$default";

/// The API id the local API Gateway reports (`requestContext.apiId`, `!Ref HttpApi`).
pub const LOCAL_API_ID: &str = "localapi";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template: {0}")]
    Invalid(String),
    #[error(
        "template parameter {0} has no Default and no local value; pass it as a parameter override"
    )]
    MissingParameter(String),
    #[error(
        "unresolved reference {0} (not a parameter, pseudo parameter or provisioned resource)"
    )]
    UnresolvedRef(String),
    #[error("unsupported intrinsic function {0}")]
    UnsupportedIntrinsic(String),
    #[error("resource {0} has no attribute {1} locally")]
    UnknownAttribute(String, String),
    #[error("dependency cycle between resources: {0}")]
    Cycle(String),
}

/// A parsed template, intrinsics normalised to their long forms.
#[derive(Debug, Clone)]
pub struct Template {
    pub parameters: BTreeMap<String, ParameterDef>,
    /// `Globals.Function` (empty object when absent).
    pub globals_function: Json,
    /// Resources in template order.
    pub resources: BTreeMap<String, ResourceDef>,
    /// Template order of the resource logical ids.
    pub resource_order: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ParameterDef {
    pub name: String,
    pub type_: String,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ResourceDef {
    pub logical_id: String,
    pub type_: String,
    pub properties: Json,
    pub metadata: Json,
}

impl Template {
    pub fn from_path(path: &Path) -> Result<Template, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Template::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
        let root = normalize(&yaml)?;
        let root = root
            .as_object()
            .ok_or_else(|| TemplateError::Invalid("the template is not a mapping".into()))?;

        let mut parameters = BTreeMap::new();
        if let Some(params) = root.get("Parameters").and_then(Json::as_object) {
            for (name, def) in params {
                let type_ = def
                    .get("Type")
                    .and_then(Json::as_str)
                    .unwrap_or("String")
                    .to_string();
                let default = def.get("Default").map(scalar_to_string);
                parameters.insert(
                    name.clone(),
                    ParameterDef {
                        name: name.clone(),
                        type_,
                        default,
                    },
                );
            }
        }
        let globals_function = root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .cloned()
            .unwrap_or_else(|| Json::Object(Map::new()));

        let mut resources = BTreeMap::new();
        let mut resource_order = Vec::new();
        let res = root
            .get("Resources")
            .and_then(Json::as_object)
            .ok_or_else(|| {
                TemplateError::Invalid("the template has no Resources mapping".into())
            })?;
        for (id, def) in res {
            let type_ = def
                .get("Type")
                .and_then(Json::as_str)
                .ok_or_else(|| TemplateError::Invalid(format!("resource {id} has no Type")))?
                .to_string();
            resources.insert(
                id.clone(),
                ResourceDef {
                    logical_id: id.clone(),
                    type_,
                    properties: def
                        .get("Properties")
                        .cloned()
                        .unwrap_or_else(|| Json::Object(Map::new())),
                    metadata: def
                        .get("Metadata")
                        .cloned()
                        .unwrap_or_else(|| Json::Object(Map::new())),
                },
            );
            resource_order.push(id.clone());
        }
        Ok(Template {
            parameters,
            globals_function,
            resources,
            resource_order,
        })
    }

    /// Resources of the given type, in template order.
    pub fn resources_of_type<'a>(
        &'a self,
        type_: &'a str,
    ) -> impl Iterator<Item = &'a ResourceDef> {
        self.resource_order
            .iter()
            .filter_map(|id| self.resources.get(id))
            .filter(move |r| r.type_ == type_)
    }

    /// The other resources a resource refers to (Ref, GetAtt, Sub variables).
    pub fn resource_deps(&self, id: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(r) = self.resources.get(id) {
            collect_refs(&r.properties, &mut out);
        }
        out.retain(|d| d != id && self.resources.contains_key(d));
        out
    }

    /// Resource logical ids in an order where each comes after the resources it refers to
    /// (template order otherwise).
    pub fn dependency_order(&self) -> Result<Vec<String>, TemplateError> {
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut order = Vec::new();
        let mut visiting = Vec::new();
        for id in &self.resource_order {
            self.visit(id, &mut done, &mut visiting, &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        id: &str,
        done: &mut BTreeSet<String>,
        visiting: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), TemplateError> {
        if done.contains(id) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == id) {
            visiting.push(id.to_string());
            return Err(TemplateError::Cycle(visiting.join(" -> ")));
        }
        visiting.push(id.to_string());
        for dep in self.resource_deps(id) {
            // Functions are not provisioned; edges to them do not order anything.
            self.visit(&dep, done, visiting, order)?;
        }
        visiting.pop();
        done.insert(id.to_string());
        order.push(id.to_string());
        Ok(())
    }

    /// The logical ids of resources an environment variable (in Globals.Function or any
    /// function) refers to, e.g. the secret behind `TRIPLETEX_CONSUMER_TOKEN_SECRET_ID`.
    pub fn resources_referenced_by_env_var(&self, var: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut scan = |f: &Json| {
            if let Some(v) = f
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(|v| v.get(var))
            {
                collect_refs(v, &mut out);
            }
        };
        scan(&self.globals_function);
        for r in self.resources_of_type("AWS::Serverless::Function") {
            scan(&r.properties);
        }
        out.retain(|d| self.resources.contains_key(d));
        out
    }
}

/// A parameter, pseudo parameter or resource attribute value.
#[derive(Debug, Clone)]
pub struct ResolvedResource {
    pub logical_id: String,
    pub type_: String,
    /// What `!Ref` returns (table name, queue URL, secret ARN, ...).
    pub ref_value: String,
    /// `!GetAtt` attributes (Arn, QueueName, QueueUrl, ...).
    pub attrs: BTreeMap<String, String>,
    /// Whether the local stack emulates this resource (false: listed as "not emulated").
    pub emulated: bool,
}

/// Logical id → physical names, URLs and ARNs.
#[derive(Debug, Clone, Default)]
pub struct ResolvedResources(pub BTreeMap<String, ResolvedResource>);

impl ResolvedResources {
    pub fn get(&self, logical_id: &str) -> Option<&ResolvedResource> {
        self.0.get(logical_id)
    }
    /// What `!Ref logical_id` resolves to.
    pub fn ref_value(&self, logical_id: &str) -> Option<&str> {
        self.0.get(logical_id).map(|r| r.ref_value.as_str())
    }
    /// What `!GetAtt logical_id.attr` resolves to.
    pub fn attr(&self, logical_id: &str, attr: &str) -> Option<&str> {
        self.0
            .get(logical_id)
            .and_then(|r| r.attrs.get(attr))
            .map(String::as_str)
    }
    /// The queue URL of the queue with this ARN.
    pub fn queue_url_by_arn(&self, arn: &str) -> Option<&str> {
        self.0
            .values()
            .find(|r| {
                r.type_ == "AWS::SQS::Queue" && r.attrs.get("Arn").map(String::as_str) == Some(arn)
            })
            .and_then(|r| r.attrs.get("QueueUrl"))
            .map(String::as_str)
    }
    pub fn iter(&self) -> impl Iterator<Item = &ResolvedResource> {
        self.0.values()
    }
}

/// Evaluates intrinsics against parameters, pseudo parameters and resolved resources.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    /// Parameter values; a CommaDelimitedList is a JSON array.
    pub params: BTreeMap<String, Json>,
    pub resources: ResolvedResources,
}

impl Resolver {
    /// Parameter values: `overrides` first, then the template's Default.
    pub fn new(
        template: &Template,
        stack_name: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Resolver, TemplateError> {
        let mut params = BTreeMap::new();
        for (name, def) in &template.parameters {
            let raw = overrides
                .get(name)
                .cloned()
                .or_else(|| def.default.clone())
                .ok_or_else(|| TemplateError::MissingParameter(name.clone()))?;
            let value = if def.type_ == "CommaDelimitedList" || def.type_.starts_with("List<") {
                Json::Array(
                    raw.split(',')
                        .map(|s| Json::String(s.trim().to_string()))
                        .collect(),
                )
            } else {
                Json::String(raw)
            };
            params.insert(name.clone(), value);
        }
        Ok(Resolver {
            stack_name: stack_name.to_string(),
            region: REGION.to_string(),
            account_id: ACCOUNT_ID.to_string(),
            params,
            resources: ResolvedResources::default(),
        })
    }

    pub fn param_str(&self, name: &str) -> Option<String> {
        self.params.get(name).map(scalar_to_string)
    }

    /// Gives every resource the physical name, URL and ARN it would get in AWS, without creating
    /// anything (the start-up benchmark runs the functions with no AWS behind them; the tests read
    /// the resolved functions). Names come from the template's own name properties, else
    /// `{stack}-{logical id}`, as `provision` names them.
    pub fn name_offline(&mut self, template: &Template) -> Result<(), TemplateError> {
        let (region, account) = (self.region.clone(), self.account_id.clone());
        for id in template.dependency_order()? {
            let def = &template.resources[&id];
            let named = |props: &Json, key: &str| {
                props
                    .get(key)
                    .map(scalar_to_string)
                    .unwrap_or_else(|| format!("{}-{id}", self.stack_name))
            };
            let (ref_value, attrs) = match def.type_.as_str() {
                "AWS::DynamoDB::Table" => {
                    let name = named(&self.eval(&def.properties)?, "TableName");
                    let arn = format!("arn:aws:dynamodb:{region}:{account}:table/{name}");
                    (name, BTreeMap::from([("Arn".into(), arn)]))
                }
                "AWS::SQS::Queue" => {
                    let name = named(&self.eval(&def.properties)?, "QueueName");
                    let url = format!("https://sqs.{region}.amazonaws.com/{account}/{name}");
                    let attrs = BTreeMap::from([
                        (
                            "Arn".into(),
                            format!("arn:aws:sqs:{region}:{account}:{name}"),
                        ),
                        ("QueueName".into(), name),
                        ("QueueUrl".into(), url.clone()),
                    ]);
                    (url, attrs)
                }
                "AWS::SecretsManager::Secret" => {
                    let name = named(&self.eval(&def.properties)?, "Name");
                    let arn = format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}");
                    (arn.clone(), BTreeMap::from([("Arn".into(), arn)]))
                }
                "AWS::S3::Bucket" => {
                    let name = named(&self.eval(&def.properties)?, "BucketName");
                    let arn = format!("arn:aws:s3:::{name}");
                    (name, BTreeMap::from([("Arn".into(), arn)]))
                }
                "AWS::Serverless::Function" => {
                    let name = format!("{}-{id}", self.stack_name);
                    let arn = format!("arn:aws:lambda:{region}:{account}:function:{name}");
                    (name, BTreeMap::from([("Arn".into(), arn)]))
                }
                "AWS::Serverless::HttpApi" => (LOCAL_API_ID.to_string(), BTreeMap::new()),
                _ => (id.clone(), BTreeMap::new()),
            };
            self.resources.0.insert(
                id.clone(),
                ResolvedResource {
                    logical_id: id.clone(),
                    type_: def.type_.clone(),
                    ref_value,
                    attrs,
                    emulated: false,
                },
            );
        }
        Ok(())
    }

    fn pseudo(&self, name: &str) -> Option<Json> {
        let s = match name {
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::StackId" => format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/local",
                self.region, self.account_id, self.stack_name
            ),
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self.account_id.clone(),
            "AWS::Partition" => "aws".into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::NotificationARNs" => return Some(Json::Array(vec![])),
            _ => return None,
        };
        Some(Json::String(s))
    }

    fn lookup_ref(&self, name: &str) -> Result<Json, TemplateError> {
        if let Some(v) = self.params.get(name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.pseudo(name) {
            return Ok(v);
        }
        if let Some(r) = self.resources.get(name) {
            return Ok(Json::String(r.ref_value.clone()));
        }
        Err(TemplateError::UnresolvedRef(name.to_string()))
    }

    fn lookup_att(&self, id: &str, attr: &str) -> Result<String, TemplateError> {
        let r = self
            .resources
            .get(id)
            .ok_or_else(|| TemplateError::UnresolvedRef(format!("{id}.{attr}")))?;
        r.attrs
            .get(attr)
            .cloned()
            .ok_or_else(|| TemplateError::UnknownAttribute(id.to_string(), attr.to_string()))
    }

    /// Evaluates a (normalised) template value. `AWS::NoValue` removes the key it is under.
    pub fn eval(&self, v: &Json) -> Result<Json, TemplateError> {
        Ok(self.eval_opt(v)?.unwrap_or(Json::Null))
    }

    /// Evaluates to a string (numbers and booleans are stringified, as CloudFormation does).
    pub fn eval_string(&self, v: &Json) -> Result<String, TemplateError> {
        let out = self.eval(v)?;
        match out {
            Json::Array(items) => Ok(items
                .iter()
                .map(scalar_to_string)
                .collect::<Vec<_>>()
                .join(",")),
            other => Ok(scalar_to_string(&other)),
        }
    }

    fn eval_opt(&self, v: &Json) -> Result<Option<Json>, TemplateError> {
        match v {
            Json::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                if k == "Ref" {
                    let name = arg
                        .as_str()
                        .ok_or_else(|| TemplateError::Invalid("Ref takes a name".into()))?;
                    if name == "AWS::NoValue" {
                        return Ok(None);
                    }
                    return self.lookup_ref(name).map(Some);
                }
                if let Some(func) = k.strip_prefix("Fn::") {
                    return self.eval_fn(func, arg).map(Some);
                }
                self.eval_object(m).map(Some)
            }
            Json::Object(m) => self.eval_object(m).map(Some),
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    if let Some(x) = self.eval_opt(i)? {
                        out.push(x);
                    }
                }
                Ok(Some(Json::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn eval_object(&self, m: &Map<String, Json>) -> Result<Json, TemplateError> {
        let mut out = Map::new();
        for (k, v) in m {
            if let Some(x) = self.eval_opt(v)? {
                out.insert(k.clone(), x);
            }
        }
        Ok(Json::Object(out))
    }

    fn eval_fn(&self, func: &str, arg: &Json) -> Result<Json, TemplateError> {
        match func {
            "GetAtt" => {
                let (id, attr) = getatt_parts(arg)
                    .ok_or_else(|| TemplateError::Invalid(format!("bad Fn::GetAtt {arg}")))?;
                Ok(Json::String(self.lookup_att(&id, &attr)?))
            }
            "Sub" => {
                let (text, vars) = match arg {
                    Json::String(s) => (s.clone(), Map::new()),
                    Json::Array(a) if a.len() == 2 => {
                        let s = a[0].as_str().ok_or_else(|| {
                            TemplateError::Invalid("Fn::Sub needs a string".into())
                        })?;
                        let vars = match self.eval(&a[1])? {
                            Json::Object(m) => m,
                            _ => Map::new(),
                        };
                        (s.to_string(), vars)
                    }
                    _ => return Err(TemplateError::Invalid(format!("bad Fn::Sub {arg}"))),
                };
                self.sub(&text, &vars).map(Json::String)
            }
            "Join" => {
                let a = arg.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                    TemplateError::Invalid("Fn::Join takes [delimiter, list]".into())
                })?;
                let delim = scalar_to_string(&a[0]);
                let list = self.eval(&a[1])?;
                let parts: Vec<String> = list
                    .as_array()
                    .map(|l| l.iter().map(scalar_to_string).collect())
                    .unwrap_or_default();
                Ok(Json::String(parts.join(&delim)))
            }
            "Select" => {
                let a = arg.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                    TemplateError::Invalid("Fn::Select takes [index, list]".into())
                })?;
                let idx: usize = scalar_to_string(&self.eval(&a[0])?)
                    .parse()
                    .map_err(|_| TemplateError::Invalid("Fn::Select index".into()))?;
                let list = self.eval(&a[1])?;
                list.as_array()
                    .and_then(|l| l.get(idx).cloned())
                    .ok_or_else(|| TemplateError::Invalid("Fn::Select index out of range".into()))
            }
            "Split" => {
                let a = arg.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                    TemplateError::Invalid("Fn::Split takes [delimiter, string]".into())
                })?;
                let delim = scalar_to_string(&a[0]);
                let s = self.eval_string(&a[1])?;
                Ok(Json::Array(
                    s.split(delim.as_str())
                        .map(|p| Json::String(p.to_string()))
                        .collect(),
                ))
            }
            other => Err(TemplateError::UnsupportedIntrinsic(format!("Fn::{other}"))),
        }
    }

    fn sub(&self, text: &str, vars: &Map<String, Json>) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                TemplateError::Invalid(format!("unclosed ${{ in Fn::Sub {text:?}"))
            })?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(&scalar_to_string(v));
            } else if self.params.contains_key(name)
                || self.pseudo(name).is_some()
                || self.resources.get(name).is_some()
            {
                out.push_str(&scalar_to_string(&self.lookup_ref(name)?));
            } else if let Some((id, attr)) = name.split_once('.') {
                out.push_str(&self.lookup_att(id, attr)?);
            } else {
                return Err(TemplateError::UnresolvedRef(name.to_string()));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn getatt_parts(arg: &Json) -> Option<(String, String)> {
    match arg {
        Json::String(s) => s
            .split_once('.')
            .map(|(a, b)| (a.to_string(), b.to_string())),
        Json::Array(a) if a.len() == 2 => {
            Some((a[0].as_str()?.to_string(), scalar_to_string(&a[1])))
        }
        _ => None,
    }
}

/// The names a value refers to: `Ref` targets, `GetAtt` resources and `Sub` variables.
pub fn collect_refs(v: &Json, out: &mut BTreeSet<String>) {
    match v {
        Json::Object(m) => {
            for (k, arg) in m {
                match k.as_str() {
                    "Ref" => {
                        if let Some(s) = arg.as_str() {
                            out.insert(s.to_string());
                        }
                    }
                    "Fn::GetAtt" => {
                        if let Some((id, _)) = getatt_parts(arg) {
                            out.insert(id);
                        }
                    }
                    "Fn::Sub" => {
                        let text = match arg {
                            Json::String(s) => Some(s.as_str()),
                            Json::Array(a) => {
                                if let Some(m) = a.get(1) {
                                    collect_refs(m, out);
                                }
                                a.first().and_then(Json::as_str)
                            }
                            _ => None,
                        };
                        if let Some(text) = text {
                            let mut rest = text;
                            while let Some(start) = rest.find("${") {
                                let after = &rest[start + 2..];
                                let Some(end) = after.find('}') else { break };
                                let name = &after[..end];
                                if !name.starts_with('!') {
                                    let id = name.split('.').next().unwrap_or(name);
                                    out.insert(id.to_string());
                                }
                                rest = &after[end + 1..];
                            }
                        }
                    }
                    _ => collect_refs(arg, out),
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// A scalar as CloudFormation stringifies it.
pub fn scalar_to_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        Json::Array(a) => a.iter().map(scalar_to_string).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// YAML (with CloudFormation short tags) → JSON with long intrinsic forms.
pub fn normalize(v: &serde_yaml::Value) -> Result<Json, TemplateError> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Json::Null,
        Y::Bool(b) => Json::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Y::String(s) => Json::String(s.clone()),
        Y::Sequence(items) => Json::Array(items.iter().map(normalize).collect::<Result<_, _>>()?),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(TemplateError::Invalid(format!(
                            "unsupported mapping key {other:?}"
                        )))
                    }
                };
                out.insert(key, normalize(v)?);
            }
            Json::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = normalize(&t.value)?;
            let mut m = Map::new();
            match name {
                "Ref" => {
                    m.insert("Ref".into(), inner);
                }
                "Condition" => {
                    m.insert("Condition".into(), inner);
                }
                "GetAtt" => {
                    let parts = match &inner {
                        Json::String(s) => match s.split_once('.') {
                            Some((a, b)) => Json::Array(vec![a.into(), b.into()]),
                            None => inner.clone(),
                        },
                        _ => inner.clone(),
                    };
                    m.insert("Fn::GetAtt".into(), parts);
                }
                other => {
                    m.insert(format!("Fn::{other}"), inner);
                }
            }
            Json::Object(m)
        }
    })
}

// ------------------------------------------------------------------ functions and events

/// An `AWS::Serverless::Function` with Globals merged and everything resolved.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    pub logical_id: String,
    /// The physical function name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// Binary name (Metadata.BuildProperties.Binary).
    pub binary: String,
    pub timeout: Duration,
    pub memory_mb: u64,
    pub env: BTreeMap<String, String>,
    pub http_routes: Vec<HttpRouteDef>,
    pub sqs_sources: Vec<SqsSourceDef>,
    /// EventBridge Scheduler events (`ScheduleV2`): not run on a clock locally, but
    /// [`crate::LocalStack::invoke_schedule`] invokes the function with the event's input.
    pub schedules: Vec<ScheduleDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDef {
    pub event_name: String,
    pub expression: String,
    pub timezone: Option<String>,
    /// The event's `Input` as JSON (`{}` without one, as the scheduler sends).
    pub input: Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRouteDef {
    pub event_name: String,
    /// Upper case, or `ANY`.
    pub method: String,
    pub path: String,
    /// Logical id of the HttpApi (None: SAM's implicit API).
    pub api_id: Option<String>,
    /// False when the event sets `Auth: { Authorizer: NONE }`.
    pub authorized: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSourceDef {
    pub event_name: String,
    pub queue_arn: String,
    pub batch_size: u32,
    pub batching_window: Duration,
    pub report_batch_item_failures: bool,
    pub enabled: bool,
}

/// An `AWS::Serverless::HttpApi`'s stage, JWT authorizer and CORS settings.
#[derive(Debug, Clone)]
pub struct HttpApiDef {
    pub logical_id: String,
    /// `StageName`; `$default` when the template names none.
    pub stage: String,
    pub jwt: Option<JwtAuthorizerDef>,
    pub cors: Option<CorsDef>,
}

impl Default for HttpApiDef {
    fn default() -> Self {
        HttpApiDef {
            logical_id: String::new(),
            stage: DEFAULT_STAGE.to_string(),
            jwt: None,
            cors: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct JwtAuthorizerDef {
    pub issuer: String,
    pub audiences: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CorsDef {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub max_age: Option<u64>,
}

fn as_string_list(v: &Json) -> Vec<String> {
    match v {
        Json::Array(a) => a.iter().map(scalar_to_string).collect(),
        Json::Null => vec![],
        other => vec![scalar_to_string(other)],
    }
}

fn as_u64(v: Option<&Json>) -> Option<u64> {
    match v? {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Template {
    /// All functions, resolved (call after the resources are in `resolver`).
    pub fn functions(&self, resolver: &Resolver) -> Result<Vec<FunctionDef>, TemplateError> {
        let globals = resolver.eval(&self.globals_function)?;
        let mut out = Vec::new();
        for r in self.resources_of_type("AWS::Serverless::Function") {
            let props = resolver.eval(&r.properties)?;
            let binary = r
                .metadata
                .get("BuildProperties")
                .and_then(|b| b.get("Binary"))
                .and_then(Json::as_str)
                .ok_or_else(|| {
                    TemplateError::Invalid(format!(
                        "function {} has no Metadata.BuildProperties.Binary",
                        r.logical_id
                    ))
                })?
                .to_string();
            let get = |k: &str| props.get(k).or_else(|| globals.get(k));
            let timeout = as_u64(get("Timeout")).unwrap_or(3);
            let memory_mb = as_u64(get("MemorySize")).unwrap_or(128);
            let mut env = BTreeMap::new();
            for src in [&globals, &props] {
                if let Some(vars) = src
                    .get("Environment")
                    .and_then(|e| e.get("Variables"))
                    .and_then(Json::as_object)
                {
                    for (k, v) in vars {
                        env.insert(k.clone(), scalar_to_string(v));
                    }
                }
            }
            let function_name = props
                .get("FunctionName")
                .map(scalar_to_string)
                .unwrap_or_else(|| {
                    resolver
                        .resources
                        .ref_value(&r.logical_id)
                        .unwrap_or(&r.logical_id)
                        .to_string()
                });

            let mut http_routes = Vec::new();
            let mut sqs_sources = Vec::new();
            let mut schedules = Vec::new();
            // Events are taken unevaluated first so that an ApiId Ref stays a logical id.
            let raw_events = r
                .properties
                .get("Events")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default();
            for (name, ev) in &raw_events {
                let type_ = ev.get("Type").and_then(Json::as_str).unwrap_or("");
                let raw_props = ev.get("Properties").cloned().unwrap_or(Json::Null);
                match type_ {
                    "HttpApi" => {
                        let api_id = raw_props
                            .get("ApiId")
                            .and_then(|a| a.get("Ref"))
                            .and_then(Json::as_str)
                            .map(str::to_string);
                        let p = resolver.eval(&raw_props)?;
                        let method = p
                            .get("Method")
                            .map(scalar_to_string)
                            .unwrap_or_else(|| "ANY".into())
                            .to_uppercase();
                        let method = if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" || method == "*"
                        {
                            "ANY".to_string()
                        } else {
                            method
                        };
                        let path = p
                            .get("Path")
                            .map(scalar_to_string)
                            .unwrap_or_else(|| "/$default".into());
                        let authorized = p
                            .get("Auth")
                            .and_then(|a| a.get("Authorizer"))
                            .map(scalar_to_string)
                            .map(|a| a != "NONE")
                            .unwrap_or(true);
                        http_routes.push(HttpRouteDef {
                            event_name: name.clone(),
                            method,
                            path,
                            api_id,
                            authorized,
                        });
                    }
                    "SQS" => {
                        let p = resolver.eval(&raw_props)?;
                        let queue_arn = p.get("Queue").map(scalar_to_string).ok_or_else(|| {
                            TemplateError::Invalid(format!("SQS event {name} has no Queue"))
                        })?;
                        let batch_size = as_u64(p.get("BatchSize")).unwrap_or(10) as u32;
                        let window = as_u64(p.get("MaximumBatchingWindowInSeconds")).unwrap_or(0);
                        let report = p
                            .get("FunctionResponseTypes")
                            .map(as_string_list)
                            .unwrap_or_default()
                            .iter()
                            .any(|t| t == "ReportBatchItemFailures");
                        let enabled = p.get("Enabled").and_then(Json::as_bool).unwrap_or(true);
                        sqs_sources.push(SqsSourceDef {
                            event_name: name.clone(),
                            queue_arn,
                            batch_size,
                            batching_window: Duration::from_secs(window),
                            report_batch_item_failures: report,
                            enabled,
                        });
                    }
                    "ScheduleV2" => {
                        let p = resolver.eval(&raw_props)?;
                        let input = match p.get("Input").map(scalar_to_string) {
                            None => Json::Object(Default::default()),
                            Some(text) => serde_json::from_str(&text).map_err(|e| {
                                TemplateError::Invalid(format!(
                                    "ScheduleV2 event {name}: Input is not JSON: {e}"
                                ))
                            })?,
                        };
                        schedules.push(ScheduleDef {
                            event_name: name.clone(),
                            expression: p
                                .get("ScheduleExpression")
                                .map(scalar_to_string)
                                .unwrap_or_default(),
                            timezone: p.get("ScheduleExpressionTimezone").map(scalar_to_string),
                            input,
                        });
                    }
                    _ => {}
                }
            }
            out.push(FunctionDef {
                logical_id: r.logical_id.clone(),
                function_name,
                binary,
                timeout: Duration::from_secs(timeout),
                memory_mb,
                env,
                http_routes,
                sqs_sources,
                schedules,
            });
        }
        Ok(out)
    }

    /// The HTTP APIs (explicit `AWS::Serverless::HttpApi` resources), resolved.
    pub fn http_apis(&self, resolver: &Resolver) -> Result<Vec<HttpApiDef>, TemplateError> {
        let mut out = Vec::new();
        for r in self.resources_of_type("AWS::Serverless::HttpApi") {
            let p = resolver.eval(&r.properties)?;
            let auth = p.get("Auth");
            let default_authorizer = auth
                .and_then(|a| a.get("DefaultAuthorizer"))
                .and_then(Json::as_str);
            let jwt = default_authorizer.and_then(|name| {
                let cfg = auth?
                    .get("Authorizers")?
                    .get(name)?
                    .get("JwtConfiguration")?;
                Some(JwtAuthorizerDef {
                    issuer: cfg.get("issuer").map(scalar_to_string).unwrap_or_default(),
                    audiences: cfg.get("audience").map(as_string_list).unwrap_or_default(),
                })
            });
            let cors = p.get("CorsConfiguration").and_then(|c| match c {
                Json::Object(_) => Some(CorsDef {
                    allow_origins: c
                        .get("AllowOrigins")
                        .map(as_string_list)
                        .unwrap_or_default(),
                    allow_methods: c
                        .get("AllowMethods")
                        .map(as_string_list)
                        .unwrap_or_default(),
                    allow_headers: c
                        .get("AllowHeaders")
                        .map(as_string_list)
                        .unwrap_or_default(),
                    max_age: as_u64(c.get("MaxAge")),
                }),
                Json::Bool(true) => Some(CorsDef {
                    allow_origins: vec!["*".into()],
                    allow_methods: vec!["*".into()],
                    allow_headers: vec!["*".into()],
                    max_age: None,
                }),
                _ => None,
            });
            let stage = p
                .get("StageName")
                .map(scalar_to_string)
                .unwrap_or_else(|| DEFAULT_STAGE.to_string());
            out.push(HttpApiDef {
                logical_id: r.logical_id.clone(),
                stage,
                jwt,
                cors,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_template() -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        Template::from_path(&path).expect("the real template parses")
    }

    fn local_overrides() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("Stage".to_string(), "local".to_string()),
            ("JwtIssuer".to_string(), "https://issuer.local/".to_string()),
            ("JwtAudience".to_string(), "aud-a,aud-b".to_string()),
        ])
    }

    #[test]
    fn real_template_resources_and_dependency_order() {
        let t = real_template();
        assert_eq!(t.resources["Table"].type_, "AWS::DynamoDB::Table");
        assert_eq!(t.resources["SyncQueue"].type_, "AWS::SQS::Queue");
        let order = t.dependency_order().unwrap();
        let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
        // The DLQ is declared after the queue but must be created first.
        assert!(pos("SyncDeadLetterQueue") < pos("SyncQueue"), "{order:?}");
        assert!(t.resource_deps("SyncQueue").contains("SyncDeadLetterQueue"));
        assert_eq!(
            t.resources_referenced_by_env_var("TRIPLETEX_CONSUMER_TOKEN_SECRET_ID"),
            BTreeSet::from(["TripletexConsumerTokenSecret".to_string()])
        );
    }

    #[test]
    fn real_template_parameters_need_local_values() {
        let t = real_template();
        let err = Resolver::new(&t, "s", &BTreeMap::new()).unwrap_err();
        assert!(matches!(err, TemplateError::MissingParameter(_)), "{err}");
        let r = Resolver::new(&t, "s", &local_overrides()).unwrap();
        assert_eq!(r.param_str("Stage").unwrap(), "local");
        assert_eq!(r.param_str("LogLevel").unwrap(), "info");
        assert_eq!(
            r.params["JwtAudience"],
            serde_json::json!(["aud-a", "aud-b"])
        );
    }

    #[test]
    fn real_template_functions_resolve_with_globals_merged() {
        let t = real_template();
        let mut r = Resolver::new(&t, "inndrive-local", &local_overrides()).unwrap();
        r.name_offline(&t).unwrap();
        let queue = r.eval(&t.resources["SyncQueue"].properties).unwrap();
        assert_eq!(queue["QueueName"], "inndrive-local-sync.fifo");
        assert_eq!(
            queue["RedrivePolicy"]["deadLetterTargetArn"],
            "arn:aws:sqs:eu-north-1:123456789012:inndrive-local-sync-dlq.fifo"
        );
        assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"], 5);

        let fns = t.functions(&r).unwrap();
        let f = fns
            .iter()
            .find(|f| f.logical_id == "IntegrationSetupFunction")
            .unwrap();
        assert_eq!(f.binary, "integration-setup");
        assert_eq!(
            f.timeout,
            Duration::from_secs(29),
            "function Timeout overrides Globals"
        );
        assert_eq!(f.memory_mb, 256);
        assert_eq!(f.env["TABLE_NAME"], "inndrive-local");
        assert_eq!(
            f.env["SYNC_QUEUE_URL"],
            "https://sqs.eu-north-1.amazonaws.com/123456789012/inndrive-local-sync.fifo"
        );
        assert_eq!(f.env["SECRET_PREFIX"], "inndrive/local/tripletex-keys/");
        assert_eq!(
            f.env["TRIPLETEX_CONSUMER_TOKEN_SECRET_ID"],
            "arn:aws:secretsmanager:eu-north-1:123456789012:secret:inndrive/local/tripletex/consumer-token"
        );
        assert_eq!(f.env["TRIPLETEX_BASE_URL"], "https://tripletex.no/v2");
        assert_eq!(f.env["RUST_LOG"], "info");
        assert!(f.sqs_sources.is_empty());
        assert!(f.http_routes.contains(&HttpRouteDef {
            event_name: "GetAccount".into(),
            method: "GET".into(),
            path: "/v1/accounts/{id}".into(),
            api_id: Some("HttpApi".into()),
            authorized: true,
        }));
        assert_eq!(f.http_routes.len(), 16);

        let dunning = fns
            .iter()
            .find(|f| f.logical_id == "DunningFunction")
            .unwrap();
        assert_eq!(dunning.schedules.len(), 1);
        assert_eq!(
            dunning.schedules[0].input,
            serde_json::json!({"fanOut": true})
        );
        assert_eq!(
            dunning.schedules[0].timezone.as_deref(),
            Some("Europe/Oslo")
        );
        assert_eq!(
            dunning.env["LETTERS_BUCKET"],
            "inndrive-local-letters-123456789012"
        );

        let apis = t.http_apis(&r).unwrap();
        assert_eq!(apis.len(), 1);
        let jwt = apis[0].jwt.as_ref().unwrap();
        assert_eq!(jwt.issuer, "https://issuer.local/");
        assert_eq!(jwt.audiences, vec!["aud-a", "aud-b"]);
        assert_eq!(apis[0].cors.as_ref().unwrap().max_age, Some(600));
        assert_eq!(apis[0].stage, "$default");
    }

    #[test]
    fn short_and_long_intrinsic_forms_agree() {
        let t = Template::parse(
            r#"
Parameters:
  Stage: { Type: String, Default: dev }
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      A: !Sub "x-${Stage}-${AWS::Region}-${!Literal}"
      B: { "Fn::Sub": "x-${Stage}-${AWS::Region}-${!Literal}" }
      C: !Ref Stage
      D: { Ref: Stage }
      E: !Join [ "-", [ a, !Ref Stage, !Select [ 1, !Split [ ",", "p,q,r" ] ] ] ]
      F: !Sub [ "${Name}-${AWS::AccountId}", { Name: !Ref Stage } ]
      G: !Ref AWS::NoValue
      H: !GetAtt Other.Arn
      I: { "Fn::GetAtt": [ Other, Arn ] }
  Other:
    Type: AWS::Foo::Bar
"#,
        )
        .unwrap();
        let mut r = Resolver::new(&t, "stk", &BTreeMap::new()).unwrap();
        r.resources.0.insert(
            "Other".into(),
            ResolvedResource {
                logical_id: "Other".into(),
                type_: "AWS::Foo::Bar".into(),
                ref_value: "other".into(),
                attrs: BTreeMap::from([("Arn".into(), "arn:other".into())]),
                emulated: false,
            },
        );
        let p = r.eval(&t.resources["Q"].properties).unwrap();
        assert_eq!(p["A"], "x-dev-eu-north-1-${Literal}");
        assert_eq!(p["A"], p["B"]);
        assert_eq!(p["C"], "dev");
        assert_eq!(p["C"], p["D"]);
        assert_eq!(p["E"], "a-dev-q");
        assert_eq!(p["F"], "dev-123456789012");
        assert!(p.get("G").is_none(), "AWS::NoValue removes the key");
        assert_eq!(p["H"], "arn:other");
        assert_eq!(p["H"], p["I"]);
        assert_eq!(
            t.dependency_order().unwrap(),
            vec!["Other".to_string(), "Q".to_string()]
        );
    }

    #[test]
    fn unresolved_reference_and_cycle_are_errors() {
        let t =
            Template::parse("Resources:\n  A: { Type: X::Y, Properties: { P: !Ref Missing } }\n")
                .unwrap();
        let r = Resolver::new(&t, "s", &BTreeMap::new()).unwrap();
        assert!(matches!(
            r.eval(&t.resources["A"].properties),
            Err(TemplateError::UnresolvedRef(_))
        ));
        let t = Template::parse(
            "Resources:\n  A: { Type: X::Y, Properties: { P: !Ref B } }\n  B: { Type: X::Y, Properties: { P: !GetAtt A.Arn } }\n",
        )
        .unwrap();
        assert!(matches!(t.dependency_order(), Err(TemplateError::Cycle(_))));
    }

    #[test]
    fn sqs_event_and_function_overrides() {
        let t = Template::parse(
            r#"
Globals:
  Function:
    Timeout: 10
    Environment: { Variables: { A: global, B: global } }
Resources:
  Q: { Type: AWS::SQS::Queue, Properties: { QueueName: q } }
  F:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: worker } }
    Properties:
      MemorySize: 512
      Environment: { Variables: { B: own, N: 5 } }
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
            BatchSize: 3
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
        Open:
          Type: HttpApi
          Properties: { Path: "/files/{proxy+}", Method: any, Auth: { Authorizer: NONE } }
        Daily:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 7 * * ? *)
            ScheduleExpressionTimezone: Europe/Oslo
            Input: '{"fanOut": true}'
"#,
        )
        .unwrap();
        let mut r = Resolver::new(&t, "s", &BTreeMap::new()).unwrap();
        r.resources.0.insert(
            "Q".into(),
            ResolvedResource {
                logical_id: "Q".into(),
                type_: "AWS::SQS::Queue".into(),
                ref_value: "http://u/q".into(),
                attrs: BTreeMap::from([("Arn".into(), "arn:q".into())]),
                emulated: true,
            },
        );
        let f = &t.functions(&r).unwrap()[0];
        assert_eq!(f.timeout, Duration::from_secs(10));
        assert_eq!(f.memory_mb, 512);
        assert_eq!(f.env["A"], "global");
        assert_eq!(f.env["B"], "own");
        assert_eq!(f.env["N"], "5");
        assert_eq!(f.schedules.len(), 1);
        assert_eq!(f.schedules[0].event_name, "Daily");
        assert_eq!(f.schedules[0].input, serde_json::json!({"fanOut": true}));
        assert_eq!(f.schedules[0].timezone.as_deref(), Some("Europe/Oslo"));
        assert_eq!(
            f.sqs_sources,
            vec![SqsSourceDef {
                event_name: "Work".into(),
                queue_arn: "arn:q".into(),
                batch_size: 3,
                batching_window: Duration::from_secs(2),
                report_batch_item_failures: true,
                enabled: true,
            }]
        );
        assert_eq!(f.http_routes[0].method, "ANY");
        assert!(!f.http_routes[0].authorized);
        assert_eq!(f.http_routes[0].api_id, None);
    }
}
