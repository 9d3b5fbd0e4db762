namespace PaliGemma2.DocPipeline.Pacs;

/// <summary>Bound from <c>Pacs:Intake</c>: following an Orthanc's <c>/changes</c> feed.</summary>
public sealed class OrthancIntakeOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Pacs:Intake";

    /// <summary>Whether this process follows the feed (run it in one process only).</summary>
    public bool Enabled { get; set; }

    /// <summary>Orthanc REST root, e.g. <c>http://orthanc:8042/</c>; user info in the URL is used as credentials.</summary>
    public Uri? OrthancUrl { get; set; }

    /// <summary>Orthanc user (HTTP Basic); overrides user info in <see cref="OrthancUrl"/>.</summary>
    public string? Username { get; set; }

    /// <summary>Orthanc password.</summary>
    public string? Password { get; set; }

    /// <summary>Task documents are ingested for; <c>auto</c> routes CR/DX to <c>report</c>.</summary>
    public string Task { get; set; } = "auto";

    /// <summary>Which change starts an ingest: <c>NewInstance</c> (at once) or <c>StableSeries</c> (whole series once complete).</summary>
    public OrthancTrigger Trigger { get; set; } = OrthancTrigger.NewInstance;

    /// <summary>
    /// Accepted modalities (0008,0060). Empty means <see cref="DefaultModalities"/> (the report task's
    /// radiographs); a single <c>*</c> accepts every modality.
    /// </summary>
    public IList<string> Modalities { get; } = [];

    /// <summary>Modalities accepted when <see cref="Modalities"/> is not configured: CR and DX, what <c>auto</c> routes to <c>report</c>.</summary>
    public static IReadOnlyList<string> DefaultModalities { get; } = ["CR", "DX"];

    /// <summary>Where the feed starts when no position is stored yet.</summary>
    public OrthancStartFrom StartFrom { get; set; } = OrthancStartFrom.Beginning;

    /// <summary>Accepted Body Part Examined values (0018,0015); empty accepts all.</summary>
    public IList<string> BodyParts { get; } = [];

    /// <summary>Accepted SOP Class UIDs (0008,0016); empty accepts all.</summary>
    public IList<string> SopClasses { get; } = [];

    /// <summary>Wait between polls once the feed is drained.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Changes asked for per request.</summary>
    public int BatchSize { get; set; } = 100;
}

/// <summary>Which Orthanc change triggers an ingest.</summary>
public enum OrthancTrigger
{
    /// <summary>Each <c>NewInstance</c> change.</summary>
    NewInstance,
    /// <summary>Each <c>StableSeries</c> change: every instance of the series.</summary>
    StableSeries,
}

/// <summary>Where a feed without a stored position starts.</summary>
public enum OrthancStartFrom
{
    /// <summary>Every change Orthanc still has (its whole history).</summary>
    Beginning,
    /// <summary>Only changes after the first poll (what is already in Orthanc is left alone).</summary>
    Now,
}

/// <summary>Bound from <c>Pacs:WriteBack</c>: sending draft reports back as DICOM SR.</summary>
public sealed class WriteBackOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Pacs:WriteBack";

    /// <summary>Whether this process consumes <c>ResultStored</c> and sends SRs.</summary>
    public bool Enabled { get; set; }

    /// <summary>How the SR travels.</summary>
    public WriteBackMode Mode { get; set; } = WriteBackMode.OrthancModality;

    /// <summary>Orthanc REST root used for <see cref="WriteBackMode.OrthancModality"/>; user info is used as credentials.</summary>
    public Uri? OrthancUrl { get; set; }

    /// <summary>Orthanc user (HTTP Basic).</summary>
    public string? Username { get; set; }

    /// <summary>Orthanc password.</summary>
    public string? Password { get; set; }

    /// <summary>Orthanc modality (its <c>/modalities/{name}</c>) that receives the C-STORE.</summary>
    public string? Modality { get; set; }

    /// <summary>DICOMweb studies URL for <see cref="WriteBackMode.DicomWeb"/>, e.g. <c>http://pacs/dicom-web/studies</c>.</summary>
    public Uri? StowUrl { get; set; }

    /// <summary>Name recorded in <c>report_deliveries.destination</c>; derived from the mode when empty.</summary>
    public string? Destination { get; set; }

    /// <summary>Manufacturer named in the Contributing Equipment Sequence.</summary>
    public string Manufacturer { get; set; } = "PaliGemma2.DocPipeline";

    /// <summary>
    /// <see cref="WriteBackMode.OrthancModality"/>: when the source image reached Orthanc by C-STORE from an AE that
    /// is registered as one of its modalities (Orthanc's <c>RemoteAET</c> metadata), the SR goes back to that
    /// modality instead of <see cref="Modality"/>. Off by default: a modality that sends straight to Orthanc
    /// (the X-ray unit itself) is rarely where reports belong.
    /// </summary>
    public bool RouteToCallingAe { get; set; }

    /// <summary>
    /// Deletes the SR from the Orthanc at <see cref="OrthancUrl"/> once the modality accepted it
    /// (<see cref="WriteBackMode.OrthancModality"/> only), so draft reports do not pile up in the DocPipeline-facing Orthanc.
    /// </summary>
    public bool DeleteFromOrthancAfterSend { get; set; }

    /// <summary>
    /// PACS that push studies by STOW-RS to the API (<c>POST /dicom-web/studies</c>), by name: a study pushed with a
    /// server's <see cref="DicomWebServerOptions.ApiKey"/> gets its report back by STOW-RS to that server's
    /// <see cref="DicomWebServerOptions.StowUrl"/>, whatever <see cref="Mode"/> says; other studies go to the default destination.
    /// </summary>
    public IDictionary<string, DicomWebServerOptions> DicomWebServers { get; } = new Dictionary<string, DicomWebServerOptions>(StringComparer.Ordinal);

    /// <summary>Sends reports whose payload failed its checks (<c>valid = false</c>) too; off by default.</summary>
    public bool SendInvalidReports { get; set; }

    /// <summary>Send attempts before a delivery is marked failed (retries back off exponentially).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>The destination name as stored.</summary>
    public string DestinationName => !string.IsNullOrWhiteSpace(Destination)
        ? Destination
        : Mode == WriteBackMode.DicomWeb
            ? "stow:" + (StowUrl is null ? "" : StowUrl.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped))
            : "orthanc-modality:" + Modality;
}

/// <summary>How an SR is sent.</summary>
public enum WriteBackMode
{
    /// <summary>Upload to Orthanc, then C-STORE through <c>/modalities/{name}/store</c>.</summary>
    OrthancModality,
    /// <summary>DICOMweb STOW-RS to <see cref="WriteBackOptions.StowUrl"/>.</summary>
    DicomWeb,
}

/// <summary>A PACS that pushes by STOW-RS and takes its reports back the same way (<c>Pacs:WriteBack:DicomWebServers:{name}</c>).</summary>
public sealed class DicomWebServerOptions
{
    /// <summary>The <c>X-Api-Key</c> this PACS sends with its STOW-RS requests (also one of <c>Api:Keys</c>).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Its DICOMweb studies URL, e.g. <c>http://pacs/dicom-web/studies</c> (user info = Basic credentials).</summary>
    public Uri? StowUrl { get; set; }

    /// <summary>HTTP Basic user; overrides user info in <see cref="StowUrl"/>.</summary>
    public string? Username { get; set; }

    /// <summary>HTTP Basic password.</summary>
    public string? Password { get; set; }
}
