using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>
/// There is no Docker engine here, so the Dockerfiles are read, not built: bases, user, entry point and every copied
/// path are checked against the repository and against what <c>dotnet publish</c> of the named project really writes.
/// </summary>
public sealed partial class DockerfileTests(PublishedProjects published) : IClassFixture<PublishedProjects>
{

    private static readonly string[] Names = ["api.Dockerfile", "worker.Dockerfile", "inference-worker.Dockerfile", "worker-gpu.Dockerfile"];

    public static TheoryData<string> Dockerfiles() => new(Names);

    private static Dockerfile Read(string name) => Dockerfile.Parse(DeployTools.RepoPath("deploy", "docker", name));

    // The build stage's `dotnet publish <project> ... -o <dir>`.
    private static (DockerStage Stage, string Project, string Output) PublishStep(Dockerfile file)
    {
        var steps = file.Stages.SelectMany(s => s.All("RUN").Select(r => (s, m: PublishPattern().Match(r.Arguments))))
            .Where(x => x.m.Success).ToList();
        var step = Assert.Single(steps);
        return (step.s, step.m.Groups["project"].Value, step.m.Groups["out"].Value);
    }

    private string PublishOutput(string project) => published.Get(project);

    [Fact]
    public void The_old_one_image_for_everything_Dockerfile_is_gone()
    {
        Assert.False(File.Exists(DeployTools.RepoPath("deploy", "docker", "Dockerfile")));
        var names = Directory.GetFiles(DeployTools.RepoPath("deploy", "docker"), "*.Dockerfile").Select(Path.GetFileName).Order();
        Assert.Equal(Names.Order(), names);
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void The_entry_point_is_the_dll_that_publishing_its_project_produces(string name)
    {
        var file = Read(name);
        var (buildStage, project, output) = PublishStep(file);
        var entry = file.Final.Last("ENTRYPOINT")!.ExecForm();
        Assert.Equal(2, entry.Count);

        // The dll: copied from the build stage's publish folder into the final stage.
        var copy = file.Final.All("COPY").Select(c => c.Split())
            .Single(c => c.Flags.GetValueOrDefault("from") == buildStage.Name && c.Words[0] == output);
        var target = copy.Words[1];
        Assert.StartsWith(target + "/", entry[1], StringComparison.Ordinal);
        var publishDir = PublishOutput(project);
        var dll = Path.Combine(publishDir, entry[1][(target.Length + 1)..]);
        Assert.True(File.Exists(dll), $"{name}: {entry[1]} is not in the publish output of {project}");

        // The host: a .NET runtime image's dotnet, copied in, that has every framework the app asks for.
        var hostCopy = file.Final.All("COPY").Select(c => c.Split())
            .Single(c => entry[0].StartsWith(c.Words[1] + "/", StringComparison.Ordinal));
        var runtimeImage = file.Stage(hostCopy.Flags["from"]).From;
        using var runtimeConfig = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(dll, ".runtimeconfig.json")));
        var options = runtimeConfig.RootElement.GetProperty("runtimeOptions");
        var frameworks = options.TryGetProperty("frameworks", out var list)
            ? list.EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToList()
            : [options.GetProperty("framework").GetProperty("name").GetString()!];
        var tfmMajor = Regex.Match(options.GetProperty("tfm").GetString()!, @"net(\d+)").Groups[1].Value;
        Assert.Matches($@"^mcr\.microsoft\.com/dotnet/{(frameworks.Contains("Microsoft.AspNetCore.App") ? "aspnet" : "(runtime|aspnet)")}:{tfmMajor}\.0-", runtimeImage);

        // The decode sandbox runs docpipe-decode.dll from the host's folder (DecodeSandbox): it must ship alongside
        // where documents are prepared, and nowhere else; ONNX Runtime ships only with the inference host.
        var inferenceHost = project == "src/InferenceWorker/InferenceWorker.csproj";
        if (project == "src/Worker/Worker.csproj")
        {
            Assert.True(File.Exists(Path.Combine(publishDir, "docpipe-decode.dll")), "docpipe-decode.dll missing from the worker's publish output");
        }

        if (inferenceHost)
        {
            Assert.False(File.Exists(Path.Combine(publishDir, "docpipe-decode.dll")), $"{name}: the inference host ships the decoder sandbox");
            Assert.False(File.Exists(Path.Combine(publishDir, "PaliGemma2.DocPipeline.Pacs.dll")), $"{name}: the inference host ships the PACS integration");
        }

        var onnxRuntime = Directory.GetFiles(publishDir, "*onnxruntime*", SearchOption.AllDirectories);
        Assert.True(inferenceHost == (onnxRuntime.Length > 0),
            $"{name}: ONNX Runtime files in the publish output of {project}: {string.Join(", ", onnxRuntime.Select(Path.GetFileName))}");
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void The_image_runs_as_a_non_root_user_from_pinned_bases_with_writable_volumes(string name)
    {
        var file = Read(name);
        foreach (var stage in file.Stages)
        {
            Assert.True(stage.From.Contains(':', StringComparison.Ordinal) || file.Stages.Any(s => s.Name == stage.From), $"{name}: {stage.From} has no tag");
            Assert.DoesNotContain(":latest", stage.From, StringComparison.Ordinal);
        }

        var user = file.Final.Last("USER")!.Arguments.Split(':')[0];
        Assert.True(int.TryParse(user, out var uid) && uid > 0, $"{name}: USER {user} is not a numeric non-root uid (runAsNonRoot needs one)");
        Assert.Contains(file.Final.All("RUN"), r => r.Arguments.Contains($"useradd --system --uid {uid}", StringComparison.Ordinal));

        // Read-only root file system: /tmp and the blob store are declared volumes; the blob root the image sets is one.
        var volumes = file.Final.All("VOLUME").SelectMany(v => v.ExecForm()).ToList();
        Assert.Contains("/tmp", volumes);
        var blobRoot = Regex.Match(string.Join(' ', file.Final.All("ENV").Select(e => e.Arguments)), @"Storage__BlobRoot=(\S+)").Groups[1].Value;
        Assert.Contains(blobRoot, volumes);

        Assert.Equal("8080", file.Final.Last("EXPOSE")!.Arguments);
        Assert.Contains("ASPNETCORE_URLS=http://+:8080", string.Join(' ', file.Final.All("ENV").Select(e => e.Arguments)), StringComparison.Ordinal);
        Assert.Contains("/health/ready", file.Final.Last("HEALTHCHECK")!.Arguments, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Every_copied_path_exists_in_the_repository_or_is_made_by_its_stage(string name)
    {
        var file = Read(name);
        var ignored = File.ReadAllLines(DeployTools.RepoPath(".dockerignore"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        foreach (var stage in file.Stages)
        {
            foreach (var (flags, words) in stage.All("COPY").Select(c => c.Split()))
            {
                var sources = words.Take(words.Count - 1).ToList();
                if (!flags.TryGetValue("from", out var from))
                {
                    foreach (var source in sources)
                    {
                        Assert.True(File.Exists(DeployTools.RepoPath(source)) || Directory.Exists(DeployTools.RepoPath(source)), $"{name}: COPY {source}: not in the repository");
                        Assert.False(IsIgnored(source, ignored), $"{name}: COPY {source}: excluded by .dockerignore");
                    }

                    continue;
                }

                var origin = file.Stages.Single(s => s.Name == from);
                foreach (var source in sources)
                {
                    Assert.True(MadeBy(file, origin, source), $"{name}: COPY --from={from} {source}: that stage does not make it");
                }
            }
        }

        // What the projects embed from outside src/ (e.g. schemas/) must be copied into the build stage too.
        var (buildStage, _, _) = PublishStep(file);
        var copied = buildStage.All("COPY").Select(c => c.Split()).Where(c => !c.Flags.ContainsKey("from"))
            .SelectMany(c => c.Words.Take(c.Words.Count - 1)).Select(s => s.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        var outside = Directory.GetFiles(DeployTools.RepoPath("src"), "*.csproj", SearchOption.AllDirectories)
            .SelectMany(p => OutsideSrc().Matches(File.ReadAllText(p)).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(outside);
        foreach (var dir in outside.Concat(["src", "global.json", "Directory.Build.props", "Directory.Packages.props"]))
        {
            Assert.True(copied.Contains(dir), $"{name}: the build needs {dir} but the build stage does not copy it");
        }
    }

    [Fact]
    public void The_GPU_image_has_the_CUDA_major_version_that_ONNX_Runtime_s_CUDA_provider_links()
    {
        var file = Read("worker-gpu.Dockerfile");
        var m = Regex.Match(file.Final.From, @"^nvidia/cuda:(\d+)\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$");
        Assert.True(m.Success, $"{file.Final.From} is not an NVIDIA CUDA + cuDNN runtime image");

        var (_, project, _) = PublishStep(file);
        var provider = Directory.GetFiles(PublishOutput(project), "libonnxruntime_providers_cuda.so", SearchOption.AllDirectories);
        var bytes = File.ReadAllBytes(Assert.Single(provider));
        var needed = Regex.Match(Encoding.Latin1.GetString(bytes), @"libcudart\.so\.(\d+)");
        Assert.True(needed.Success, "the CUDA provider names no libcudart");
        Assert.Equal(needed.Groups[1].Value, m.Groups[1].Value);
        Assert.DoesNotContain(file.Stages.SelectMany(s => s.All("RUN")), r => r.Arguments.Contains("providers_cuda", StringComparison.Ordinal));
    }

    [Fact]
    public void The_CPU_worker_image_installs_every_runtime_package_that_install_deps_names()
    {
        // scripts/install-deps.sh --runtime-only: what a machine needs to run (not test) the pipeline.
        var script = DeployTools.Text("scripts", "install-deps.sh");
        var runtimeOnly = Regex.Match(script, @"--runtime-only"" \]\]; then\s+PACKAGES=\(([^)]*)\)").Groups[1].Value
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(runtimeOnly);
        var installed = string.Join(' ', Read("worker.Dockerfile").Final.All("RUN").Select(r => r.Arguments));
        foreach (var package in runtimeOnly)
        {
            Assert.Matches($@"apt-get install[^&]*\s{Regex.Escape(package)}(\s|$)", installed);
        }
    }

    private static bool MadeBy(Dockerfile file, DockerStage stage, string source)
    {
        // An image used only as a source of files (FROM image AS name, no instructions): the .NET images keep
        // their runtime/SDK in /usr/share/dotnet.
        if (stage.Instructions.Count == 0)
        {
            return stage.From.StartsWith("mcr.microsoft.com/dotnet/", StringComparison.Ordinal) && source == "/usr/share/dotnet";
        }

        var workdir = stage.Last("WORKDIR")?.Arguments ?? "/";
        return stage.All("RUN").Any(r =>
            PublishPattern().Match(r.Arguments) is { Success: true } p && p.Groups["out"].Value == source
            || r.Arguments.Contains("npm ci", StringComparison.Ordinal) && source == workdir.TrimEnd('/') + "/node_modules");
    }

    private static bool IsIgnored(string source, IEnumerable<string> patterns)
    {
        var segments = source.TrimEnd('/').Split('/');
        foreach (var p in patterns.Select(p => p.TrimEnd('/')))
        {
            if (p.StartsWith("**/", StringComparison.Ordinal) ? segments.Contains(p[3..]) : segments[0] == p || source.TrimEnd('/') == p)
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"dotnet publish (?<project>\S+\.csproj)\b.*?-o (?<out>\S+)")]
    private static partial Regex PublishPattern();

    [GeneratedRegex(@"Include=""\.\.\\\.\.\\([A-Za-z0-9_.-]+)\\")]
    private static partial Regex OutsideSrc();
}

/// <summary>Each project published once for all the Dockerfile tests (two Dockerfiles publish the InferenceWorker); removed afterwards (up to ~400 MB each).</summary>
public sealed class PublishedProjects : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<string>> _outputs = new(StringComparer.Ordinal);

    public string Get(string project) => _outputs.GetOrAdd(project, p => new Lazy<string>(() => DeployTools.Publish(p))).Value;

    public void Dispose()
    {
        foreach (var output in _outputs.Values.Where(o => o.IsValueCreated))
        {
            Directory.Delete(output.Value, recursive: true);
        }
    }
}
