<?xml version="1.0" encoding="utf-8"?>
<!-- hcdc's publication in the Virtual Observatory (GAVO DaCHS resource descriptor).

The tables are filled by `hcdc vo publish` (hcdc_server.vo.store), never by `dachs imp`,
which only creates them: they hold public data only, so nothing DaCHS serves can name a
proprietary file. -->
<resource schema="hcdc_vo" resdir="hcdc_vo">
  <meta name="title">hcdc high-contrast imaging archive</meta>
  <meta name="description">Public raw frames (VLT/SPHERE, VLT/NACO), reduced cubes and
    S/N maps, contrast curves and companion tables of the High Contrast Data Center.
    Proprietary data are not listed; files download from hcdc's own service.</meta>
  <meta name="creationDate">2026-12-01T00:00:00</meta>
  <meta name="subject">direct-imaging</meta>
  <meta name="subject">exoplanets</meta>
  <meta name="subject">coronagraphic-imaging</meta>
  <meta name="creator.name">High Contrast Data Center</meta>
  <meta name="instrument">SPHERE</meta>
  <meta name="instrument">NACO</meta>
  <meta name="facility">VLT</meta>
  <meta name="content.type">Catalog</meta>
  <meta name="coverage.waveband">Infrared</meta>

  <table id="files" onDisk="True" adql="True" primary="obs_publisher_did">
    <meta name="description">One row per public data file: raw frames
      (calib_level 1), reduced cubes and S/N maps (2), contrast curves and
      companion tables (3).  Published in ivoa.obscore.</meta>
    <meta name="_associatedDatalinkService">
      <meta name="serviceId">dl</meta>
      <meta name="idColumn">obs_publisher_did</meta>
    </meta>
    <mixin
      obs_publisher_did="obs_publisher_did"
      obs_id="obs_id"
      obs_collection="obs_collection"
      obs_title="obs_title"
      dataproduct_type="dataproduct_type"
      dataproduct_subtype="dataproduct_subtype"
      calib_level="calib_level"
      target_name="target_name"
      s_ra="s_ra"
      s_dec="s_dec"
      s_fov="s_fov"
      s_region="s_region"
      s_xel1="s_xel1"
      s_xel2="s_xel2"
      s_pixel_scale="s_pixel_scale"
      t_min="t_min"
      t_max="t_max"
      t_exptime="t_exptime"
      em_min="em_min"
      em_max="em_max"
      pol_states="pol_states"
      o_ucd="o_ucd"
      access_url="access_url"
      access_format="access_format"
      access_estsize="access_estsize"
      preview="preview"
      instrument_name="instrument_name"
      facility_name="facility_name"
      createDIDIndex="True"
      >//obscore#publish</mixin>
    <!-- ADQL cone searches (CONTAINS(POINT, CIRCLE)) become q3c_join on these columns -->
    <FEED source="//scs#splitPosIndex" long="s_ra" lat="s_dec" columns="s_ra,s_dec"
      cluster="False"/>

    <column name="obs_publisher_did" type="text" ucd="meta.ref.ivoid"
      tablehead="DID" description="IVOA identifier of the data file." verbLevel="1"/>
    <column name="obs_id" type="text" ucd="meta.id"
      tablehead="Obs. id" description="hcdc's identifier of the file (its file name)."
      verbLevel="1"/>
    <column name="data_id" type="bigint" ucd="meta.id;meta.main"
      tablehead="hcdc id" description="The data file's id in hcdc's API." verbLevel="1">
      <values nullLiteral="-1"/>
    </column>
    <column name="obs_collection" type="text" ucd="meta.id"
      description="Collection: hcdc raw, hcdc reduced or hcdc science."/>
    <column name="obs_title" type="text" ucd="meta.title"
      description="Short human-readable title."/>
    <column name="dataproduct_type" type="text" ucd="meta.code.class"
      description="image, cube or measurements."/>
    <column name="dataproduct_subtype" type="text" ucd="meta.code.class"
      description="hcdc frame type or product category (e.g. IRD_SCIENCE_DBI_RAW,
        SNR_MAP, CONTRAST_CURVE)."/>
    <column name="calib_level" type="smallint" required="True" ucd="meta.code;obs.calib"
      description="1 raw, 2 reduced cubes and S/N maps, 3 contrast curves and companion
        tables."/>
    <column name="target_name" type="text" ucd="meta.id;src"
      description="Target (OBJECT header or resolved name)."/>
    <column name="s_ra" type="double precision" unit="deg" ucd="pos.eq.ra"
      description="Right ascension of the pointing (ICRS)."/>
    <column name="s_dec" type="double precision" unit="deg" ucd="pos.eq.dec"
      description="Declination of the pointing (ICRS)."/>
    <column name="s_fov" type="double precision" unit="deg"
      ucd="phys.angSize;instr.fov" description="Diameter of the field of view."/>
    <column name="s_region" type="spoly" ucd="pos.outline;obs.field"
      description="Field of view as a polygon."/>
    <column name="s_xel1" type="bigint" unit="" ucd="meta.number"
      description="Pixels along the first axis.">
      <values nullLiteral="-1"/>
    </column>
    <column name="s_xel2" type="bigint" unit="" ucd="meta.number"
      description="Pixels along the second axis.">
      <values nullLiteral="-1"/>
    </column>
    <column name="s_pixel_scale" type="double precision" unit="arcsec"
      ucd="phys.angSize;instr.pixel" description="Angular size of a pixel."/>
    <column name="t_min" type="double precision" unit="d" ucd="time.start;obs.exposure"
      description="Start of the observation (MJD)."/>
    <column name="t_max" type="double precision" unit="d" ucd="time.end;obs.exposure"
      description="End of the observation (MJD)."/>
    <column name="t_exptime" type="double precision" unit="s" ucd="time.duration;obs.exposure"
      description="Total exposure time."/>
    <column name="em_min" type="double precision" unit="m" ucd="em.wl;stat.min"
      description="Shortest wavelength of the band."/>
    <column name="em_max" type="double precision" unit="m" ucd="em.wl;stat.max"
      description="Longest wavelength of the band."/>
    <column name="pol_states" type="text" ucd="meta.code;phys.polarization"
      description="Polarisation states (polarimetric frames only)."/>
    <column name="o_ucd" type="text" ucd="meta.ucd" description="UCD of the values."/>
    <column name="access_url" type="text" ucd="meta.ref.url" displayHint="type=url"
      description="Download of the file from hcdc (no token needed for public data)."/>
    <column name="access_format" type="text" ucd="meta.code.mime"
      description="Media type of the file."/>
    <column name="access_estsize" type="bigint" unit="kbyte" ucd="phys.size;meta.file"
      description="Size of the file.">
      <values nullLiteral="-1"/>
    </column>
    <column name="preview" type="text" ucd="meta.ref.url;meta.preview" displayHint="type=url"
      description="PNG preview."/>
    <column name="instrument_name" type="text" ucd="meta.id;instr"
      description="Instrument (SPHERE, NACO)."/>
    <column name="facility_name" type="text" ucd="meta.id;instr.tel"
      description="Telescope."/>
  </table>

  <table id="links" onDisk="True" adql="True">
    <meta name="description">DataLink links of the published files: the file
      itself, its calibrations, the products made from it and a preview.</meta>
    <index columns="did"/>
    <column name="did" type="text" ucd="meta.ref.ivoid"
      description="The file the link belongs to."/>
    <column name="access_url" type="text" ucd="meta.ref.url" description="Link target."/>
    <column name="semantics" type="text" ucd="meta.code"
      description="DataLink semantics (#this, #calibration, #derivation, #preview)."/>
    <column name="description" type="text" ucd="meta.note" description="What it is."/>
    <column name="content_type" type="text" ucd="meta.code.mime" description="Media type."/>
    <column name="content_length" type="bigint" unit="byte" ucd="phys.size;meta.file"
      description="Size in bytes.">
      <values nullLiteral="-1"/>
    </column>
  </table>

  <table id="epn_core" onDisk="True" adql="True">
    <meta name="description">Companions of stars detected in hcdc's validated
      reductions (EPN-TAP v2, for VESPA): separation, position angle, contrast and
      magnitude difference at the epoch of observation.</meta>
    <mixin spatial_frame_type="celestial"
      optional_columns="access_url access_format access_estsize alt_target_name
        bib_reference publisher ra dec filter proposal_id">//epntap2#table-2_0</mixin>
    <column name="host_star" type="text" ucd="meta.id;src" tablehead="Host"
      description="The star the companion orbits."/>
    <column name="separation" type="double precision" unit="mas"
      ucd="pos.angDistance" description="Separation from the star."/>
    <column name="separation_err" type="double precision" unit="mas"
      ucd="stat.error;pos.angDistance" description="Uncertainty of the separation."/>
    <column name="position_angle" type="double precision" unit="deg"
      ucd="pos.posAng" description="Position angle, east of north."/>
    <column name="position_angle_err" type="double precision" unit="deg"
      ucd="stat.error;pos.posAng" description="Uncertainty of the position angle."/>
    <column name="contrast" type="double precision" unit=""
      ucd="phot.flux;arith.ratio" description="Companion to star flux ratio."/>
    <column name="contrast_err" type="double precision" unit=""
      ucd="stat.error;phot.flux;arith.ratio" description="Uncertainty of the contrast."/>
    <column name="delta_mag" type="double precision" unit="mag"
      ucd="phot.mag;arith.diff" description="Magnitude difference to the star."/>
    <column name="snr" type="double precision" unit="" ucd="stat.snr"
      description="Signal-to-noise ratio of the detection."/>
    <column name="epoch" type="double precision" unit="d" ucd="time.epoch"
      description="Epoch of the observation (MJD)."/>
  </table>

  <data id="import">
    <!-- Creates the tables and declares them (TAP_SCHEMA, ObsCore); rows come from
         `hcdc vo publish`. -->
    <make table="files"/>
    <make table="links"/>
    <make table="epn_core"/>
  </data>

  <service id="dl" allowed="dlget,dlmeta">
    <meta name="title">hcdc DataLink</meta>
    <meta name="description">Links of a published hcdc file: the file, its
      calibrations, the products made from it and a PNG preview.</meta>
    <datalinkCore>
      <descriptorGenerator procDef="//datalink#fromtable">
        <bind key="tableName">"hcdc_vo.files"</bind>
        <bind key="idColumn">"obs_publisher_did"</bind>
      </descriptorGenerator>
      <metaMaker>
        <code>
          with base.getTableConn() as conn:
            for row in conn.queryToDicts(
                "SELECT access_url, semantics, description, content_type,"
                " content_length FROM hcdc_vo.links WHERE did=%(did)s"
                " ORDER BY semantics, access_url",
                {"did": descriptor.pubDID}):
              yield descriptor.makeLink(row["access_url"],
                semantics=row["semantics"],
                description=row["description"],
                contentType=row["content_type"],
                contentLength=row["content_length"])
        </code>
      </metaMaker>
    </datalinkCore>
  </service>

  <service id="sia" allowed="siap2.xml,form">
    <meta name="title">hcdc images (SIA v2)</meta>
    <meta name="description">Public images and cubes of hcdc (raw frames, reduced
      cubes, S/N maps) by position, band, time and the other SIA v2 parameters.</meta>
    <meta name="sia.type">Pointed</meta>
    <meta name="testQuery.pos.ra">86.82</meta>
    <meta name="testQuery.pos.dec">-51.07</meta>
    <meta name="testQuery.size.ra">0.1</meta>
    <meta name="testQuery.size.dec">0.1</meta>
    <publish render="siap2.xml" sets="ivo_managed"/>
    <dbCore queriedTable="files">
      <FEED source="//siap2#parameters"/>
      <condDesc combining="True">
        <phraseMaker>
          <code>
            yield "dataproduct_type in ('image', 'cube')"
          </code>
        </phraseMaker>
      </condDesc>
    </dbCore>
  </service>
</resource>
