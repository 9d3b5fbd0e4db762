using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// docs/pacs.md, "PACS in production", run as written: its <c>bash</c> blocks are read out of the file and run in
/// order against the test services, with the test's values in place of the doc's <c>sh</c> block. The DIMSE PACS
/// is a dcmtk <c>storescp</c>; the DICOMweb PACS is a second, real Orthanc that pushes by STOW-RS through its
/// DicomWeb <c>Servers</c> setting and must get the SR of its study back.
/// </summary>
public sealed partial class PacsTests
{
    [Fact]
    public async Task Production_walkthrough_in_docs_pacs_md_runs_as_written()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var received = Directory.CreateDirectory(Path.Combine(_root, "walk-pacs")).FullName;
        var scpPort = ServiceProcess.FreePort();
        var pacsAet = "WALK" + id.ToUpperInvariant();
        using var storescp = StartTool("storescp", "-aet", pacsAet, "-od", received, scpPort.ToString(CultureInfo.InvariantCulture));
        await using var pacs2 = await SecondOrthanc.StartAsync(Path.Combine(_root, "pacs2"));

        // One radiograph for each way in (different SOP instances: one document each).
        var dimse = await MakeDxAsync("walk-dimse.dcm");
        var (dimseStudy, dimseSop) = await UidsAsync(dimse);
        var stow = await MakeDxAsync("walk-stow.dcm");
        var (stowStudy, stowSop) = await UidsAsync(stow);
        string pacsStudy;
        using (var upload = new ByteArrayContent(await File.ReadAllBytesAsync(stow)))
        {
            using var response = await pacs2.Http.PostAsync("instances", upload);
            response.EnsureSuccessStatusCode();
            pacsStudy = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ParentStudy").GetString()!;
        }

        var pg = new NpgsqlConnectionStringBuilder(TestServices.Postgres);
        var db = "walk_" + id;
        var key = "walk-key-" + Guid.NewGuid().ToString("N");
        var values = new Dictionary<string, string>
        {
            ["PGHOST"] = pg.Host!, ["PGPORT"] = pg.Port.ToString(CultureInfo.InvariantCulture), ["PGUSER"] = pg.Username!,
            ["DOCPIPE_DB"] = db, ["DOCPIPE_OWNER"] = db, ["DOCPIPE_OWNER_PASSWORD"] = "walk-" + id,
            ["DOCPIPE_CLI"] = "dotnet " + ServiceProcess.Dll("Cli", "docpipe"),
            ["DOCPIPE_WORKER_DIR"] = Path.GetDirectoryName(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"))!,
            ["DOCPIPE_INFERENCE_WORKER_DIR"] = Path.GetDirectoryName(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"))!,
            ["DOCPIPE_API_DIR"] = Path.GetDirectoryName(ServiceProcess.Dll("Api", "PaliGemma2.DocPipeline.Api"))!,
            ["REPORT_CHECKPOINT"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "report"),
            ["RABBITMQ"] = _env["ConnectionStrings__RabbitMq"], ["BLOBS"] = Path.Combine(_root, "walk-blobs"),
            ["ORTHANC"] = Orthanc.ToString().TrimEnd('/'),
            ["ORTHANC_DICOM_HOST"] = "127.0.0.1", ["ORTHANC_DICOM_PORT"] = OrthancDicomPort, ["ORTHANC_AET"] = "ORTHANC",
            ["PACS_AET"] = pacsAet, ["PACS_HOST"] = "127.0.0.1", ["PACS_PORT"] = scpPort.ToString(CultureInfo.InvariantCulture),
            ["PACS_ORTHANC"] = pacs2.Root.ToString().TrimEnd('/'), ["PACS_STOW_KEY"] = key,
            ["DOCPIPE_API_URL"] = $"http://127.0.0.1:{ServiceProcess.FreePort()}",
            ["RADIOGRAPH"] = dimse, ["PACS_STUDY"] = pacsStudy,
            // The test's own settings: the demo checkpoint writes noise; other tests share this Orthanc; faster polls.
            ["Pacs__WriteBack__SendInvalidReports"] = "true",
            ["Pacs__Intake__BodyParts__0"] = _bodyPart,
            ["Pacs__Intake__PollInterval"] = "00:00:00.250",
        };

        var doc = await File.ReadAllTextAsync(Path.Combine(TestServices.RepoRoot, "docs", "pacs.md"));
        var blocks = FencedBlock().Matches(doc).Where(m => m.Groups["lang"].Value == "bash").Select(m => m.Groups["body"].Value).ToList();
        Assert.True(blocks.Count >= 7, $"docs/pacs.md has {blocks.Count} bash blocks");
        var script = new StringBuilder("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
        foreach (var (k, v) in values)
        {
            script.Append(CultureInfo.InvariantCulture, $"export {k}='{v.Replace("'", "'\\''", StringComparison.Ordinal)}'\n");
        }

        foreach (var block in blocks)
        {
            script.Append(block).Append('\n');
        }

        var path = Path.Combine(_root, "walkthrough.sh");
        await File.WriteAllTextAsync(path, script.ToString());
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = TestServices.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(path);
        using var bash = new Tool(Process.Start(psi)!);
        using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(9)))
        {
            try
            {
                await bash.Process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                bash.Process.Kill(entireProcessTree: true);
                Assert.Fail("the walk-through did not finish in 9 minutes:\n" + bash.Output);
            }
        }

        bash.Process.WaitForExit();
        Assert.True(bash.Process.ExitCode == 0, $"the walk-through failed ({bash.Process.ExitCode}):\n{bash.Output}\n--- storescp:\n{storescp.Output}\n--- second Orthanc:\n{pacs2.Log}");

        var owner = new NpgsqlConnectionStringBuilder(TestServices.Postgres) { Database = db }.ConnectionString;
        Assert.Equal(["dicomweb:pacs2", "orthanc-modality:hospital-pacs"], await TestServices.ColumnAsync(owner,
            "select destination from report_deliveries where status = 'sent' order by destination"));

        // The DIMSE PACS got exactly one SR, for its own study; the STOW-RS study's SR did not go there.
        var files = Directory.GetFiles(received);
        var sr = Assert.Single(files);
        var tags = await RunToolAsync("dcmdump", "-Un", "+P", "0020,000d", "+P", "0008,1155", sr);
        Assert.Contains($"(0020,000d) UI [{dimseStudy}]", tags, StringComparison.Ordinal);
        Assert.Contains($"(0008,1155) UI [{dimseSop}]", tags, StringComparison.Ordinal);

        // The DICOMweb PACS holds the SR of the study it pushed, in that study.
        var stowSr = await TestServices.ScalarAsync<string>(owner, "select sr_sop_instance_uid from report_deliveries where destination = 'dicomweb:pacs2'");
        var found = await pacs2.FindAsync(stowSr!);
        var instance = Assert.Single(found.EnumerateArray());
        Assert.Equal(stowStudy, await pacs2.StudyUidOfInstanceAsync(instance.GetProperty("ID").GetString()!));
        Assert.Equal("SR", await pacs2.ModalityOfInstanceAsync(instance.GetProperty("ID").GetString()!));

        // Where each document came from, in its metadata: the pushing key's fingerprint (SHA-256, 16 hex digits),
        // and Orthanc's own id for the change-feed one (file_name stays the SOP Instance UID).
        var fingerprint = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
        Assert.Equal(fingerprint, await TestServices.ScalarAsync<string>(owner,
            $"select metadata::jsonb ->> 'stowClientKey' from documents where sop_instance_uid = '{stowSop}'"));
        Assert.Equal(await OrthancIdAsync(dimseSop), await TestServices.ScalarAsync<string>(owner,
            $"select metadata::jsonb ->> 'orthancInstanceId' from documents where sop_instance_uid = '{dimseSop}'"));
        Assert.Equal(dimseSop + ".dcm", await TestServices.ScalarAsync<string>(owner,
            $"select file_name from documents where sop_instance_uid = '{dimseSop}'"));
    }

    /// <summary>Orthanc's id of the instance with <paramref name="sopInstanceUid"/> in the test Orthanc.</summary>
    private async Task<string> OrthancIdAsync(string sopInstanceUid)
    {
        using var json = JsonDocument.Parse(await FindInOrthancAsync(sopInstanceUid));
        return Assert.Single(json.RootElement.EnumerateArray()).GetString()!;
    }


    [GeneratedRegex(@"^```(?<lang>[a-z]*)[^\n]*\n(?<body>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    /// <summary>A second Orthanc (with DICOMweb) on free loopback ports: the hospital PACS that speaks DICOMweb.</summary>
    private sealed class SecondOrthanc : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();

        private SecondOrthanc(Process process, Uri root)
        {
            _process = process;
            Root = root;
            Http = new HttpClient { BaseAddress = root };
        }

        public Uri Root { get; }

        public string Log
        {
            get
            {
                lock (_log)
                {
                    return _log.ToString();
                }
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(line);
                }
            }
        }

        public HttpClient Http { get; }

        public static async Task<SecondOrthanc> StartAsync(string directory)
        {
            Directory.CreateDirectory(directory);
            var http = ServiceProcess.FreePort();
            var config = Path.Combine(directory, "orthanc.json");
            await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["Name"] = "PACS2", ["StorageDirectory"] = directory, ["IndexDirectory"] = directory,
                ["HttpPort"] = http, ["DicomPort"] = ServiceProcess.FreePort(), ["DicomAet"] = "PACS2",
                ["RemoteAccessAllowed"] = false, ["AuthenticationEnabled"] = false,
                ["Plugins"] = new[] { "/usr/share/orthanc/plugins" },
                ["DicomWeb"] = new Dictionary<string, object> { ["Enable"] = true, ["Root"] = "/dicom-web/" },
            }));
            var psi = new ProcessStartInfo("Orthanc") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(config);
            var process = Process.Start(psi)!;
            var orthanc = new SecondOrthanc(process, new Uri($"http://127.0.0.1:{http}/"));
            process.OutputDataReceived += (_, e) => orthanc.Append(e.Data);
            process.ErrorDataReceived += (_, e) => orthanc.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            Assert.True(await TestServices.EventuallyAsync(async () =>
            {
                try
                {
                    return (await orthanc.Http.GetAsync("system")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(30)), "the second Orthanc did not start");
            return orthanc;
        }

        public async Task<JsonElement> FindAsync(string sopInstanceUid)
        {
            using var response = await Http.PostAsJsonAsync("tools/find", new Dictionary<string, object>
            {
                ["Level"] = "Instance", ["Expand"] = true, ["Query"] = new Dictionary<string, string> { ["SOPInstanceUID"] = sopInstanceUid },
            });
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }

        public async Task<string?> StudyUidOfInstanceAsync(string instanceId)
        {
            var study = await Http.GetFromJsonAsync<JsonElement>($"instances/{instanceId}/study");
            return study.GetProperty("MainDicomTags").GetProperty("StudyInstanceUID").GetString();
        }

        public async Task<string?> ModalityOfInstanceAsync(string instanceId)
        {
            var series = await Http.GetFromJsonAsync<JsonElement>($"instances/{instanceId}/series");
            return series.GetProperty("MainDicomTags").GetProperty("Modality").GetString();
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}
