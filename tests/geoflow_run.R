# Run a geoflow workflow offline, as the tests do: Rscript tests/geoflow_run.R <workflow folder> [run|check]
#
# run   (default) executeWorkflow on <folder>/workflow.json; prints "JOBDIR=<job folder>" at the end.
# check the publishing workflow (CSW, GeoNetwork, Zenodo): as far as geoflow can check it without
#       connecting: every software declaration against geoflow's software list (type, parameter names),
#       then initWorkflow (tables validated and parsed, every action and its options resolved) on a
#       copy without the software, which geoflow would otherwise connect to. Prints "CHECKED=<n> actions".
suppressPackageStartupMessages(library(geoflow))
args <- commandArgs(trailingOnly = TRUE)
dir <- normalizePath(args[1])
mode <- if(length(args) > 1) args[2] else "run"
setwd(dir)
# Offline: the ISO 19115 and Zenodo actions ask zen4R (zenodo.org) about every licence. Answer NULL, as
# zen4R does for an unknown licence, instead of failing on the network.
zen4R::ZenodoManager$set("public", "getLicenseById", function(id) NULL, overwrite = TRUE)

if(mode == "run"){
  jobdir <- executeWorkflow("workflow.json", dir = dir)
  cat(sprintf("\nJOBDIR=%s\n", jobdir))
}else if(mode == "check"){
  wf <- jsonlite::read_json("workflow.json")
  known <- list_software(raw = TRUE)
  for(sw in wf$software){
    target <- Filter(function(x) x$software_type == sw$software_type, known)
    if(length(target) == 0) stop(sprintf("software type '%s' unknown to geoflow", sw$software_type))
    target <- target[[1]]$clone(deep = TRUE)
    target$setParameters(sw$parameters)   # stops on a parameter geoflow does not know
    target$checkPackages()
    cat(sprintf("SOFTWARE=%s ok\n", sw$software_type))
  }
  # The {{ VAR }} placeholders: geoflow renders them with whisker from the environment file of the profile.
  if(length(wf$software) > 0){
    env <- wf$profile$environment$file
    if(is.null(env) || !file.exists(env)) stop("publishing workflow without its environment file (profile.environment.file)")
    dotenv::load_dot_env(env)
    rendered <- whisker::whisker.render(jsonlite::toJSON(wf$software, auto_unbox = TRUE), as.list(Sys.getenv()))
    if(grepl("{{", rendered, fixed = TRUE)) stop("placeholders left after loading the environment file")
    for(sw in jsonlite::parse_json(rendered)) for(p in names(sw$parameters)) if(!nzchar(sw$parameters[[p]]))
      stop(sprintf("software '%s': parameter '%s' empty after loading the environment file", sw$id, p))
    cat("SECRETS=substituted\n")
  }
  offline <- wf
  offline$software <- NULL
  jsonlite::write_json(offline, "workflow-offline.json", auto_unbox = TRUE, pretty = TRUE)
  config <- initWorkflow("workflow-offline.json", dir = dir)
  ids <- sapply(config$actions, function(a) a$id)
  for(a in config$actions){
    if(a$id %in% c("ows4R-publish-iso-19139", "geonapi-publish-iso-19139", "zen4R-deposit-record")){
      needed <- switch(a$id, "ows4R-publish-iso-19139" = "csw", "geonapi-publish-iso-19139" = "geonetwork",
                       "zen4R-deposit-record" = "zenodo")
      if(!needed %in% sapply(wf$software, function(s) s$software_type))
        stop(sprintf("action '%s' needs a '%s' software", a$id, needed))
    }
  }
  cat(sprintf("ACTIONS=%s\n", paste(ids, collapse = ",")))
  cat(sprintf("ENTITIES=%s\n", length(config$getEntities())))
  closeWorkflow(config)
}
