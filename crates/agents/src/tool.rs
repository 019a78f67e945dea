//! Tools the agents may call: our own code behind one small trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use llm::ToolSpec;

/// Why a tool call failed. The text goes back to the model as the tool's result (so it can fix
/// its arguments or try something else); it never ends the run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Failed(String),
}

/// A capability offered to the model.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Name, description and JSON schema of the arguments, as the model sees them.
    fn spec(&self) -> ToolSpec;

    /// Runs the tool. The result is text (usually compact JSON) for the model to read.
    async fn call(&self, arguments: serde_json::Value) -> Result<String, ToolError>;
}

/// The tools a crew can use, by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct ToolBox {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl std::fmt::Debug for ToolBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.keys()).finish()
    }
}

impl ToolBox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool under the name its spec gives (replacing one of the same name).
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> &mut Self {
        self.tools.insert(tool.spec().name, tool);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }

    /// The specs of the named tools, in the given order (unknown names are skipped; crews are
    /// validated before they run).
    pub fn specs(&self, names: &[String]) -> Vec<ToolSpec> {
        names.iter().filter_map(|name| self.tools.get(name)).map(|tool| tool.spec()).collect()
    }
}
