# sen2val-stac: geoflow custom action "sen2val-complete-iso-19115" (written by `sen2val-stac geoflow`).
#
# Runs after geoflow's geometa-create-iso-19115 on each entity, and before any publishing action (those
# read metadata/<id>_ISO-19115.xml back). It puts into geoflow's record what geoflow 1.3.0 cannot take
# from its tables; the ISO 19139 fragments come from the facts file written beside the tables
# (sen2val-iso-facts.json, one object per entity identifier), the same that `sen2val-stac metadata` writes:
#   - spatialRepresentationInfo: geoflow writes MD_GridSpatialRepresentation without dimensions and
#     without transformationParameterAvailability (schema-invalid); replaced by rows and columns with
#     size and resolution;
#   - referenceSystemInfo: the tiles' EPSG:327xx, added after the entity's EPSG:4326;
#   - topicCategory (a `topic` Subject would make geoflow's table validator warn);
#   - the licence as a gmx:Anchor to its SPDX page, in place of geoflow's licence text (or Zenodo's
#     anchor when zen4R could reach zenodo.org);
#   - the temporal extent's instants in UTC ("Z": geoflow drops the time zone);
#   - DOI links as https://doi.org/ (geoflow writes http://dx.doi.org/);
#   - it drops the empty MI_CoverageDescription blocks geoflow writes for every grid entity.
function(action, entity, config){
  ns <- c(gmd = "http://www.isotc211.org/2005/gmd", gco = "http://www.isotc211.org/2005/gco",
          gmx = "http://www.isotc211.org/2005/gmx", gml = "http://www.opengis.net/gml/3.2",
          gmi = "http://standards.iso.org/iso/19115/-2/gmi/1.0", xlink = "http://www.w3.org/1999/xlink")
  id <- entity$identifiers[["id"]]
  facts_file <- geoflow::get_config_resource_path(config, action$getOption("facts"))
  facts <- jsonlite::read_json(facts_file)[[id]]
  if(is.null(facts)) stop(sprintf("sen2val-complete-iso-19115: no facts for entity '%s' in %s", id, facts_file))
  file <- file.path("metadata", paste0(entity$getEntityJobDirname(), "_ISO-19115.xml"))
  doc <- xml2::read_xml(file)
  fragment <- function(xml) xml2::read_xml(xml)
  nodes <- function(xpath, from = doc) xml2::xml_find_all(from, xpath, ns)
  ident <- "/gmd:MD_Metadata/gmd:identificationInfo/gmd:MD_DataIdentification"

  old <- nodes("/gmd:MD_Metadata/gmd:spatialRepresentationInfo")
  if(length(old) == 0) stop(sprintf("sen2val-complete-iso-19115: '%s' has no spatialRepresentationInfo", file))
  xml2::xml_replace(old[[1]], fragment(facts$spatialRepresentationInfo))
  if(length(old) > 1) xml2::xml_remove(old[-1])

  have <- xml2::xml_text(nodes("/gmd:MD_Metadata/gmd:referenceSystemInfo//gmd:code/gco:CharacterString"))
  for(xml in rev(facts$referenceSystemInfo)){
    new <- fragment(xml)
    if(xml2::xml_text(nodes(".//gmd:code/gco:CharacterString", new)[[1]]) %in% have) next
    systems <- nodes("/gmd:MD_Metadata/gmd:referenceSystemInfo")
    at <- if(length(systems) > 0) systems[[length(systems)]] else nodes("/gmd:MD_Metadata/gmd:spatialRepresentationInfo")[[1]]
    xml2::xml_add_sibling(at, new, .where = "after")
  }

  xml2::xml_remove(nodes("/gmd:MD_Metadata/gmd:contentInfo[gmi:MI_CoverageDescription[not(gmd:dimension)]]"))

  if(length(nodes(paste0(ident, "/gmd:topicCategory"))) == 0){
    after <- nodes(sprintf("(%1$s/gmd:environmentDescription | %1$s/gmd:extent | %1$s/gmd:supplementalInformation)", ident))
    xml2::xml_add_sibling(after[[1]], fragment(facts$topicCategory), .where = "before")
  }

  name <- tolower(facts$licence$name)
  for(legal in nodes(paste0(ident, "/gmd:resourceConstraints/gmd:MD_LegalConstraints"))){
    uses <- nodes("gmd:useLimitation", legal)
    licence <- uses[sapply(uses, function(u) length(nodes("gmx:Anchor", u)) > 0 || tolower(xml2::xml_text(u)) == name)]
    if(length(licence) > 0){
      xml2::xml_replace(licence[[1]], fragment(facts$licence$useLimitation))
      if(length(licence) > 1) xml2::xml_remove(licence[-1])
    }
  }

  for(pos in c("begin", "end")){
    for(n in nodes(sprintf("%s/gmd:extent//gml:TimePeriod/gml:%sPosition", ident, pos))) xml2::xml_text(n) <- facts$temporal[[pos]]
  }

  for(url in nodes("//gmd:URL[starts-with(., 'http://dx.doi.org/')]"))
    xml2::xml_text(url) <- sub("^http://dx.doi.org/", "https://doi.org/", xml2::xml_text(url))
  for(a in nodes("//gmx:Anchor[starts-with(@xlink:href, 'http://dx.doi.org/')]"))
    xml2::xml_attr(a, "xlink:href") <- sub("^http://dx.doi.org/", "https://doi.org/", xml2::xml_attr(a, "xlink:href"))

  xml2::write_xml(doc, file)
  config$logger$INFO(sprintf("sen2val-complete-iso-19115: completed %s", file))
  invisible(TRUE)
}
